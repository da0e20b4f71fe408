using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>Starts every container of a compose service (docker compose start), or brings a Swarm service stopped by Stop-PuoService back to its replica count. -Wait waits until they run and are healthy.</summary>
[Cmdlet(VerbsLifecycle.Start, "PuoService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ServiceChange))]
public sealed class StartPuoServiceCommand : ServiceCommandBase
{
    /// <summary>Wait until the containers run and are healthy (Swarm: until the service converged), within -TimeoutSec.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    protected override ServiceAction Action => ServiceAction.Start;

    protected override bool ShouldWait => Wait;
}
