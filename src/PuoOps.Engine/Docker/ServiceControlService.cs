using System.Diagnostics;
using System.Globalization;
using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

public enum ServiceAction
{
    Start,
    Stop,
    Restart,
}

/// <summary>
/// Restart-, Stop- and Start-PuoService on a resolved <see cref="ServiceTarget"/>: every container of a compose
/// service at once, or a Swarm service through its spec; with a wait, until <see cref="ServiceWaits"/> sees it
/// done. Scaling is <see cref="ServiceScaleService"/>.
/// </summary>
public static class ServiceControlService
{
    /// <summary>Swarm Stop scales to 0 and remembers the replica count here, so Start can bring it back.</summary>
    internal const string StoppedReplicasLabel = "io.puoops.stopped-replicas";

    /// <summary>InvalidArgument unless -WaitTimeout is a positive time of at most a day.</summary>
    public static void ValidateWait(TimeSpan wait)
    {
        if (wait <= TimeSpan.Zero || wait > TimeSpan.FromDays(1))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Docker.WaitTimeout",
                $"-WaitTimeout must be between 1 ms and 1 day (got {wait}). Example: -WaitTimeout '5m'.", wait);
    }

    /// <param name="wait">How long to wait until the service runs (and is healthy) or stopped; null: do not wait.</param>
    public static async Task<IReadOnlyList<ServiceChange>> ApplyAsync(OperationContext ctx, ServiceTarget target, ServiceAction action, TimeSpan? wait)
    {
        var clock = Stopwatch.StartNew();
        return target.Kind == ServiceTarget.Compose
            ? await ApplyComposeAsync(ctx, target, action, wait, clock).ConfigureAwait(false)
            : [await ApplySwarmAsync(ctx, target, action, wait, clock).ConfigureAwait(false)];
    }

    private static async Task<IReadOnlyList<ServiceChange>> ApplyComposeAsync(OperationContext ctx, ServiceTarget target, ServiceAction action, TimeSpan? wait, Stopwatch clock)
    {
        var changed = await Task.WhenAll(target.Containers.Select(async c =>
        {
            var name = ContainerStatsService.NameOf(c);
            ctx.Log($"{action} {name}.");
            return action switch
            {
                ServiceAction.Start => await DockerConnections.CallAsync(ctx, "Starting the container", name,
                    (client, token) => client.Containers.StartContainerAsync(c.ID, new ContainerStartParameters(), token)).ConfigureAwait(false),
                ServiceAction.Stop => await DockerConnections.CallAsync(ctx, "Stopping the container", name,
                    (client, token) => client.Containers.StopContainerAsync(c.ID, new ContainerStopParameters(), token)).ConfigureAwait(false),
                _ => await DockerConnections.CallAsync(ctx, "Restarting the container", name, async (client, token) =>
                {
                    await client.Containers.RestartContainerAsync(c.ID, new ContainerRestartParameters(), token).ConfigureAwait(false);
                    return true;
                }).ConfigureAwait(false),
            };
        })).ConfigureAwait(false);

        var ids = target.Containers.Select(c => c.ID).ToList();
        var after = wait is { } limit && action != ServiceAction.Stop
            ? await ServiceWaits.RunningAndHealthyAsync(ctx, ids, limit, clock).ConfigureAwait(false)
            : await Task.WhenAll(ids.Select(id => ContainerService.InspectAsync(ctx, id))).ConfigureAwait(false);
        return target.Containers.Select((c, i) => new ServiceChange
        {
            Environment = ctx.Environment.Name,
            Service = target.Service,
            Kind = target.Kind,
            Target = ContainerStatsService.NameOf(c),
            Action = action.ToString(),
            Before = c.State,
            After = after[i].State?.Status ?? "",
            Changed = changed[i],
            Health = ServiceWaits.HealthOf(after[i]),
            Duration = clock.Elapsed,
        }).ToList();
    }

    private static async Task<ServiceChange> ApplySwarmAsync(OperationContext ctx, ServiceTarget target, ServiceAction action, TimeSpan? wait, Stopwatch clock)
    {
        var service = target.SwarmService!;
        var spec = service.Spec;
        var replicas = target.DesiredReplicas;
        var before = await DescribeSwarmAsync(ctx, service).ConfigureAwait(false);
        var changed = true;
        switch (action)
        {
            case ServiceAction.Restart:
                // What docker service update --force does: a new ForceUpdate value makes Swarm replace every task.
                service.TaskTemplate.ForceUpdate++;
                break;
            case ServiceAction.Stop when replicas is null:
            case ServiceAction.Start when replicas is null:
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.GlobalService",
                    $"Swarm service '{service.Name}' is global: it runs on every node and cannot be stopped or started by replica count. Use Restart-PuoService, or docker service rm.", service.Name);
            case ServiceAction.Stop when replicas == 0:
            case ServiceAction.Start when replicas > 0:
                changed = false;
                break;
            case ServiceAction.Stop:
                spec.Labels ??= new Dictionary<string, string>();
                spec.Labels[StoppedReplicasLabel] = replicas!.Value.ToString(CultureInfo.InvariantCulture);
                spec.Mode!.Replicated!.Replicas = 0; // replicas is not null: the service is replicated
                break;
            case ServiceAction.Start:
                var restore = spec.Labels is not null && spec.Labels.Remove(StoppedReplicasLabel, out var saved)
                              && ulong.TryParse(saved, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0 ? count : 1UL;
                spec.Mode!.Replicated!.Replicas = restore;
                break;
        }
        if (changed)
            await ServiceTarget.UpdateSwarmAsync(ctx, service).ConfigureAwait(false);
        var refreshed = await ServiceTarget.InspectSwarmAsync(ctx, service.ID).ConfigureAwait(false);
        if (wait is { } limit && changed)
            await ServiceWaits.SwarmConvergedAsync(ctx, refreshed, limit, clock, throwOnTimeout: true).ConfigureAwait(false);
        return new ServiceChange
        {
            Environment = ctx.Environment.Name,
            Service = target.Service,
            Kind = target.Kind,
            Target = service.Name,
            Action = action.ToString(),
            Before = before,
            After = await DescribeSwarmAsync(ctx, refreshed).ConfigureAwait(false),
            Changed = changed,
            Duration = clock.Elapsed,
        };
    }

    private static async Task<string> DescribeSwarmAsync(OperationContext ctx, InspectedService service)
    {
        var running = await ServiceTarget.CountRunningTasksAsync(ctx, service).ConfigureAwait(false);
        return service.DesiredReplicas is { } desired ? $"{running}/{desired} running" : $"{running} running (global)";
    }
}
