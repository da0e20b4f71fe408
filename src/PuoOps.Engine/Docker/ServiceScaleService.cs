using System.Diagnostics;
using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>Set-PuoServiceScale: a Swarm service's replica count, or the replicas of a compose service (cloned or removed).</summary>
public static class ServiceScaleService
{
    /// <summary>
    /// Sets the replica count: a Swarm service's spec (then waits until it converged), or for compose clones
    /// the lowest-numbered container with the next container-number labels, or stops and removes the
    /// highest-numbered ones. When <paramref name="wait"/> runs out first, the result says Converged = false.
    /// </summary>
    public static async Task<ServiceScale> ScaleAsync(OperationContext ctx, ServiceTarget target, int replicas, TimeSpan wait)
    {
        if (replicas < 0)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Docker.Replicas", $"-Replicas must be 0 or more (got {replicas}).", replicas);
        var clock = Stopwatch.StartNew();
        return target.Kind == ServiceTarget.Compose
            ? await ScaleComposeAsync(ctx, target, replicas, wait, clock).ConfigureAwait(false)
            : await ScaleSwarmAsync(ctx, target, replicas, wait, clock).ConfigureAwait(false);
    }

    private static async Task<ServiceScale> ScaleSwarmAsync(OperationContext ctx, ServiceTarget target, int replicas, TimeSpan wait, Stopwatch clock)
    {
        var service = target.SwarmService!;
        var before = target.DesiredReplicas ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.GlobalService",
            $"Swarm service '{service.Name}' is global (one task per node); it has no replica count to set.", service.Name);
        if (before != replicas)
        {
            service.Spec.Mode!.Replicated!.Replicas = (ulong)replicas; // before is not null: the service is replicated
            await ServiceTarget.UpdateSwarmAsync(ctx, service).ConfigureAwait(false);
        }
        var refreshed = await ServiceTarget.InspectSwarmAsync(ctx, service.ID).ConfigureAwait(false);
        var converged = await ServiceWaits.SwarmConvergedAsync(ctx, refreshed, wait, clock, throwOnTimeout: false).ConfigureAwait(false);
        return new ServiceScale
        {
            Environment = ctx.Environment.Name, Service = target.Service, Kind = target.Kind,
            Before = before, After = replicas, Converged = converged, Duration = clock.Elapsed,
        };
    }

    private static async Task<ServiceScale> ScaleComposeAsync(OperationContext ctx, ServiceTarget target, int replicas, TimeSpan wait, Stopwatch clock)
    {
        var containers = target.Containers;
        var before = containers.Count;
        var added = new List<string>();
        var removed = new List<string>();
        if (replicas > before)
        {
            var template = await ContainerService.InspectAsync(ctx, containers[0].ID).ConfigureAwait(false);
            var next = containers.Max(c => ContainerService.NumberOf(c.Labels) ?? 0) + 1;
            for (var number = next; added.Count < replicas - before; number++)
                added.Add(await ContainerCloner.CloneAsync(ctx, target, template, number).ConfigureAwait(false));
        }
        else
        {
            foreach (var c in containers.OrderByDescending(c => ContainerService.NumberOf(c.Labels) ?? 0).Take(before - replicas))
            {
                var name = ContainerStatsService.NameOf(c);
                ctx.Log($"Stopping and removing {name}.");
                await DockerConnections.CallAsync(ctx, "Stopping the container", name,
                    (client, token) => client.Containers.StopContainerAsync(c.ID, new ContainerStopParameters(), token)).ConfigureAwait(false);
                await DockerConnections.CallAsync(ctx, "Removing the container", name,
                    (client, token) => client.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true }, token)).ConfigureAwait(false);
                removed.Add(name);
            }
        }
        var converged = true;
        if (added.Count > 0)
        {
            try
            {
                await ServiceWaits.RunningAndHealthyAsync(ctx, added, wait, clock).ConfigureAwait(false);
            }
            catch (PuoException ex) when (ex.Kind == ErrorKind.Timeout)
            {
                ctx.Log(ex.Message);
                converged = false;
            }
        }
        return new ServiceScale
        {
            Environment = ctx.Environment.Name, Service = target.Service, Kind = target.Kind,
            Before = before, After = replicas, Added = added.ToArray(), Removed = removed.ToArray(), Converged = converged, Duration = clock.Elapsed,
        };
    }
}
