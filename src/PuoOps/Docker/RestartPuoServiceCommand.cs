using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>Restarts every container of a compose service at once (docker compose restart), or replaces a Swarm service's tasks (docker service update --force). -Wait waits until they run and, where they have a healthcheck, are healthy.</summary>
[Cmdlet(VerbsLifecycle.Restart, "PuoService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ServiceChange))]
public sealed class RestartPuoServiceCommand : ServiceCommandBase
{
    /// <summary>Wait until the containers run and are healthy (Swarm: until the service converged), within -TimeoutSec.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    protected override ServiceAction Action => ServiceAction.Restart;

    protected override bool ShouldWait => Wait;
}
