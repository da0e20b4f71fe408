using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Deployment;

namespace PuoOps.Commands.Deployment;

/// <summary>The switch records of the environment's traffic file, newest first.</summary>
[Cmdlet(VerbsCommon.Get, "PuoDeploymentHistory", SupportsPaging = true)]
[OutputType(typeof(TrafficSwitch))]
public sealed class GetPuoDeploymentHistoryCommand : PuoCmdlet
{
    /// <summary>Only switches to or from these colours.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Color { get; set; } = [];

    /// <summary>Only switches that were rolled back.</summary>
    [Parameter]
    public SwitchParameter RolledBack { get; set; }

    protected override void Process()
    {
        var patterns = NamePatterns(Color, nameof(Color));
        WriteRows(Await(DeploymentHistory.ReadAsync(Context))
            .Where(r => patterns.Count == 0 || patterns.Any(p => p.IsMatch(r.From) || p.IsMatch(r.To)))
            .Where(r => !RolledBack || r.RolledBack));
    }
}
