using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>Stops every container of a compose service (docker compose stop), or scales a Swarm service to 0 remembering its replica count. ConfirmImpact High: it is the isolation step of a breach response and traffic is lost.</summary>
[Cmdlet(VerbsLifecycle.Stop, "PuoService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ServiceChange))]
public sealed class StopPuoServiceCommand : ServiceCommandBase
{
    /// <summary>Wait until the Swarm service has no running task left (compose stops are complete when they return).</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    protected override ServiceAction Action => ServiceAction.Stop;

    protected override bool ShouldWait => Wait;
}
