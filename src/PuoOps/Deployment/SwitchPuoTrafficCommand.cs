using System.Management.Automation;
using PuoOps.Engine.Deployment;

namespace PuoOps.Commands.Deployment;

/// <summary>
/// The runbook's "switch traffic" step, verified: the target is judged before anything changes, the traffic file is
/// replaced through the one nginx transaction, the switch is proven through nginx, and a watch window rolls back on
/// its own. ConfirmImpact is High: a switch moves every client.
/// </summary>
[Cmdlet(VerbsCommon.Switch, "PuoTraffic", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "To")]
[OutputType(typeof(TrafficSwitch))]
public sealed class SwitchPuoTrafficCommand : PuoCmdlet
{
    /// <summary>The colour to send traffic to; default: the idle one.</summary>
    [Parameter(Position = 0, ParameterSetName = "To")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColorNameCompleter))]
    public string? To { get; set; }

    /// <summary>Switch back to the colour the last switch came from.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Rollback")]
    public SwitchParameter Rollback { get; set; }

    [Parameter]
    [ValidateRange(1, 100)]
    public int HealthyProbes { get; set; } = 3;

    [Parameter]
    [ValidateRange(0, 100_000)]
    public long AnalysisRequests { get; set; } = 200;

    [Parameter]
    [Duration]
    public TimeSpan MaxP99 { get; set; } = TimeSpan.FromMilliseconds(500);

    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double MinSuccessRate { get; set; } = 0.99;

    [Parameter]
    [ValidateRange(0, 3600)]
    public int MonitorSec { get; set; } = 30;

    [Parameter]
    [Duration]
    public TimeSpan MinReloadInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Switch even when the target fails the pre-switch analysis.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        if (MaxP99 <= TimeSpan.Zero || MinReloadInterval < TimeSpan.Zero)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.Threshold",
                "-MaxP99 must be above zero and -MinReloadInterval zero or more.", MaxP99 <= TimeSpan.Zero ? "MaxP99" : "MinReloadInterval");
        var options = new SwitchOptions
        {
            To = To, Rollback = Rollback, HealthyProbes = HealthyProbes, AnalysisRequests = AnalysisRequests, MaxP99 = MaxP99,
            MinSuccessRate = MinSuccessRate, Monitor = TimeSpan.FromSeconds(MonitorSec), MinReloadInterval = MinReloadInterval, Force = Force,
        };
        var plan = Await(TrafficService.PlanAsync(Context, options));
        if (!ShouldProcess($"{CurrentEnvironment.Name}: {plan.Describe(options)}", $"Switch traffic from {plan.From} to {plan.To}"))
            return;
        var record = Await(TrafficService.SwitchAsync(Context, plan, options));
        WriteObject(record);
        if (record.RolledBack)
            WriteError(ErrorRecords.From(new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.RolledBack",
                $"Traffic went back to {record.From}: {record.RollbackReason}", record.To), record.To));
    }
}
