using System.Diagnostics;
using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>
/// Waiting after a service changed: until its containers run (and are healthy where they have a healthcheck),
/// or until a Swarm service converged. The limit is the caller's -WaitTimeout, a wait of its own, not
/// -TimeoutSec (which bounds each call to the daemon).
/// </summary>
internal static class ServiceWaits
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>Polls until every container runs and, where it has a healthcheck, is healthy; Timeout error naming the laggards.</summary>
    public static async Task<ContainerInspectResponse[]> RunningAndHealthyAsync(OperationContext ctx, IReadOnlyList<string> ids, TimeSpan limit, Stopwatch clock)
    {
        while (true)
        {
            var states = await Task.WhenAll(ids.Select(id => ContainerService.InspectAsync(ctx, id))).ConfigureAwait(false);
            var pending = states.Where(s => s.State is not { Running: true } || HealthOf(s) is "starting" or "unhealthy").ToList();
            if (pending.Count == 0)
                return states;
            if (clock.Elapsed + PollInterval > limit)
                throw new PuoException(ErrorKind.Timeout, "PuoOps.Docker.WaitTimeout",
                    $"Not running and healthy within {Units.Duration(limit)}: " +
                    string.Join(", ", pending.Select(s => $"{s.Name.TrimStart('/')} ({s.State?.Status}{(HealthOf(s) is { } h ? ", " + h : "")})")) +
                    ". See Get-PuoServiceLog for why, or raise -WaitTimeout.", pending[0].Name.TrimStart('/'));
            await Task.Delay(PollInterval, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Converged: as many tasks running as desired (and, after a forced update, all of the new spec),
    /// and no task still running that Swarm wants shut down.
    /// </summary>
    public static async Task<bool> SwarmConvergedAsync(OperationContext ctx, InspectedService service, TimeSpan limit, Stopwatch clock, bool throwOnTimeout)
    {
        var desired = service.DesiredReplicas is { } r ? (int?)r : null;
        var forceUpdate = service.TaskTemplate.ForceUpdate;
        while (true)
        {
            var tasks = await ServiceTarget.ListTasksAsync(ctx, service).ConfigureAwait(false);
            var running = tasks.Count(t => t.DesiredState == TaskState.Running && t.Status?.State == TaskState.Running && t.Spec?.ForceUpdate == forceUpdate);
            var lingering = tasks.Count(t => t.DesiredState != TaskState.Running && t.Status?.State is TaskState.Running or TaskState.Starting);
            var wanted = tasks.Count(t => t.DesiredState == TaskState.Running);
            if (lingering == 0 && running == (desired ?? wanted) && (desired is not null || wanted > 0))
                return true;
            if (clock.Elapsed + PollInterval > limit)
            {
                var message = $"Swarm service '{service.Name}' did not converge within {Units.Duration(limit)}: {running}/{desired ?? wanted} running" +
                              (lingering > 0 ? $", {lingering} still stopping" : "") + ". See docker service ps, or raise -WaitTimeout.";
                if (throwOnTimeout)
                    throw new PuoException(ErrorKind.Timeout, "PuoOps.Docker.WaitTimeout", message, service.Name);
                ctx.Log(message);
                return false;
            }
            await Task.Delay(PollInterval, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>The healthcheck's verdict while running; a stopped container's last verdict means nothing.</summary>
    public static string? HealthOf(ContainerInspectResponse container) =>
        container.State is { Running: true } && container.State.Health?.Status is { Length: > 0 } health && health != "none" ? health : null;
}
