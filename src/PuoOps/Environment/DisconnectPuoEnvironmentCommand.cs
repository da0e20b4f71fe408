using System.Management.Automation;
using PuoOps.Engine;

namespace PuoOps.Commands.Environment;

[Cmdlet(VerbsCommunications.Disconnect, "PuoEnvironment", SupportsShouldProcess = true)]
public sealed class DisconnectPuoEnvironmentCommand : PuoCmdlet
{
    /// <summary>Environment names; wildcards when typed, exact names when piped (Get-PuoEnvironment output).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(EnvironmentNameCompleter))]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>Disconnecting changes only this session, so a read-only environment can still be disconnected.</summary>
    protected override bool ChangesOnlyTheSession => true;

    protected override void Process() =>
        ForEachPattern(Name ?? [NamePattern.Escape(CurrentEnvironment.Name)], nameof(Name), pattern =>
        {
            var matches = SessionEnvironments.Current.List().Where(e => pattern.IsMatch(e.Name)).Select(e => e.Name).ToList();
            if (matches.Count == 0 && !pattern.HasWildcards)
                throw new PuoException(ErrorKind.NotFound, "PuoOps.Environment.NotFound",
                    $"No environment named '{pattern}' is connected; Get-PuoEnvironment lists them.", pattern.Text);
            foreach (var name in matches)
                if (ShouldProcess(name, "Disconnect the environment and close its pooled connections"))
                    SessionEnvironments.Current.Remove(name);
        });
}
