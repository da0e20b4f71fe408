using System.Management.Automation;
using PuoOps.Engine;

namespace PuoOps.Commands.Environment;

[Cmdlet(VerbsCommon.Get, "PuoEnvironment")]
[OutputType(typeof(PuoEnvironment))]
public sealed class GetPuoEnvironmentCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(EnvironmentNameCompleter))]
    public string[] Name { get; set; } = ["*"];

    /// <summary>Only the environment cmdlets use when -Environment is not given (-Environment itself returns that one).</summary>
    [Parameter]
    public SwitchParameter Default { get; set; }

    protected override void Process()
    {
        if (Default || Environment is not null)
        {
            WriteObject(Environment ?? SessionEnvironments.Current.Resolve(null));
            return;
        }
        var connected = SessionEnvironments.Current.List();
        ForEachPattern(Name, nameof(Name), pattern =>
        {
            var matches = connected.Where(e => pattern.IsMatch(e.Name)).ToList();
            if (matches.Count == 0 && !pattern.HasWildcards)
                WriteItemError(new PuoException(ErrorKind.NotFound, "PuoOps.Environment.NotFound",
                    $"No environment named '{pattern}' is connected. Connect-PuoEnvironment -Name {pattern} first.", pattern.Text));
            WriteObject(matches, enumerateCollection: true);
        });
    }
}
