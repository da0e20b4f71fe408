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
/// Restart-, Stop-, Start-PuoService and Set-PuoServiceScale on a resolved <see cref="ServiceTarget"/>:
/// every container of a compose service at once, or a Swarm service through its spec. Waiting polls
/// until the containers run (and are healthy where they have a healthcheck) or the Swarm service converged,
/// within the context's timeout.
/// </summary>
public static class ServiceControlService
{
    /// <summary>Swarm Stop scales to 0 and remembers the replica count here, so Start can bring it back.</summary>
    internal const string StoppedReplicasLabel = "io.puoops.stopped-replicas";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static async Task<IReadOnlyList<ServiceChange>> ApplyAsync(OperationContext ctx, ServiceTarget target, ServiceAction action, bool wait)
    {
        var clock = Stopwatch.StartNew();
        return target.Kind == ServiceTarget.Compose
            ? await ApplyComposeAsync(ctx, target, action, wait, clock).ConfigureAwait(false)
            : [await ApplySwarmAsync(ctx, target, action, wait, clock).ConfigureAwait(false)];
    }

    private static async Task<IReadOnlyList<ServiceChange>> ApplyComposeAsync(OperationContext ctx, ServiceTarget target, ServiceAction action, bool wait, Stopwatch clock)
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
        var after = wait && action != ServiceAction.Stop
            ? await WaitRunningAndHealthyAsync(ctx, ids, clock).ConfigureAwait(false)
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
            Health = HealthOf(after[i]),
            Duration = clock.Elapsed,
        }).ToList();
    }

    private static async Task<ServiceChange> ApplySwarmAsync(OperationContext ctx, ServiceTarget target, ServiceAction action, bool wait, Stopwatch clock)
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
            await UpdateSwarmAsync(ctx, service).ConfigureAwait(false);
        var refreshed = await ServiceTarget.InspectSwarmAsync(ctx, service.ID).ConfigureAwait(false);
        if (wait && changed)
            await WaitSwarmConvergedAsync(ctx, refreshed, clock, throwOnTimeout: true).ConfigureAwait(false);
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

    /// <summary>
    /// Sets the replica count: a Swarm service's spec (then waits until it converged), or for compose clones
    /// the lowest-numbered container with the next container-number labels, or stops and removes the
    /// highest-numbered ones. When the time runs out first, the result says Converged = false.
    /// </summary>
    public static async Task<ServiceScale> ScaleAsync(OperationContext ctx, ServiceTarget target, int replicas)
    {
        if (replicas < 0)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Docker.Replicas", $"-Replicas must be 0 or more (got {replicas}).", replicas);
        var clock = Stopwatch.StartNew();
        return target.Kind == ServiceTarget.Compose
            ? await ScaleComposeAsync(ctx, target, replicas, clock).ConfigureAwait(false)
            : await ScaleSwarmAsync(ctx, target, replicas, clock).ConfigureAwait(false);
    }

    private static async Task<ServiceScale> ScaleSwarmAsync(OperationContext ctx, ServiceTarget target, int replicas, Stopwatch clock)
    {
        var service = target.SwarmService!;
        var before = target.DesiredReplicas ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.GlobalService",
            $"Swarm service '{service.Name}' is global (one task per node); it has no replica count to set.", service.Name);
        if (before != replicas)
        {
            service.Spec.Mode!.Replicated!.Replicas = (ulong)replicas; // before is not null: the service is replicated
            await UpdateSwarmAsync(ctx, service).ConfigureAwait(false);
        }
        var refreshed = await ServiceTarget.InspectSwarmAsync(ctx, service.ID).ConfigureAwait(false);
        var converged = await WaitSwarmConvergedAsync(ctx, refreshed, clock, throwOnTimeout: false).ConfigureAwait(false);
        return new ServiceScale
        {
            Environment = ctx.Environment.Name, Service = target.Service, Kind = target.Kind,
            Before = before, After = replicas, Converged = converged, Duration = clock.Elapsed,
        };
    }

    private static async Task<ServiceScale> ScaleComposeAsync(OperationContext ctx, ServiceTarget target, int replicas, Stopwatch clock)
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
                added.Add(await CloneAsync(ctx, target, template, number).ConfigureAwait(false));
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
                await WaitRunningAndHealthyAsync(ctx, added, clock).ConfigureAwait(false);
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

    /// <summary>
    /// A new replica made from <paramref name="template"/>'s configuration, as docker compose up --scale would:
    /// same image, command, environment, host config and labels, the next container-number, the compose name.
    /// A replica that fails to start is removed again, so a failed scale leaves nothing behind.
    /// </summary>
    private static async Task<string> CloneAsync(OperationContext ctx, ServiceTarget target, ContainerInspectResponse template, int number)
    {
        var name = $"{target.Project}-{target.Service}-{number}";
        var config = template.Config ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.IncompleteAnswer",
            $"Docker at {ctx.Environment.DockerHost} described {template.Name.TrimStart('/')} without its configuration, so it cannot be cloned; nothing was created.", target.Service);
        var labels = new Dictionary<string, string>(config.Labels ?? new Dictionary<string, string>())
        {
            [ContainerService.NumberLabel] = number.ToString(CultureInfo.InvariantCulture),
        };
        var parameters = new CreateContainerParameters(config)
        {
            Name = name,
            Hostname = "", // the template's is its own container id; empty lets the daemon name the clone
            Labels = labels,
            HostConfig = template.HostConfig,
        };
        var network = template.HostConfig?.NetworkMode;
        if (network is { Length: > 0 } && network is not ("host" or "none" or "bridge" or "default") && !network.StartsWith("container:", StringComparison.Ordinal))
            parameters.NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [network] = new() { Aliases = [target.Service] } },
            };
        ctx.Log($"Creating {name} from {template.Name.TrimStart('/')}.");
        var created = await DockerConnections.CallAsync(ctx, "Creating the container", name,
            (client, token) => client.Containers.CreateContainerAsync(parameters, token)).ConfigureAwait(false);
        try
        {
            await DockerConnections.CallAsync(ctx, "Starting the container", name,
                (client, token) => client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), token)).ConfigureAwait(false);
        }
        catch
        {
            await DockerConnections.CallAsync(ctx, "Removing the container that failed to start", name,
                (client, token) => client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, token)).ConfigureAwait(false);
            throw;
        }
        return name;
    }

    private static Task UpdateSwarmAsync(OperationContext ctx, InspectedService service) =>
        DockerConnections.CallAsync(ctx, "Updating the Swarm service", service.Name, (client, token) =>
            client.Swarm.UpdateServiceAsync(service.ID, new ServiceUpdateParameters { Service = service.Spec, Version = (long)service.Version }, token));

    /// <summary>Polls until every container runs and, where it has a healthcheck, is healthy; Timeout error naming the laggards.</summary>
    internal static async Task<ContainerInspectResponse[]> WaitRunningAndHealthyAsync(OperationContext ctx, IReadOnlyList<string> ids, Stopwatch clock)
    {
        while (true)
        {
            var states = await Task.WhenAll(ids.Select(id => ContainerService.InspectAsync(ctx, id))).ConfigureAwait(false);
            var pending = states.Where(s => s.State is not { Running: true } || HealthOf(s) is "starting" or "unhealthy").ToList();
            if (pending.Count == 0)
                return states;
            if (clock.Elapsed + PollInterval > ctx.Timeout)
                throw new PuoException(ErrorKind.Timeout, "PuoOps.Docker.WaitTimeout",
                    $"Not running and healthy within {ctx.TimeoutSeconds} s: " +
                    string.Join(", ", pending.Select(s => $"{s.Name.TrimStart('/')} ({s.State?.Status}{(HealthOf(s) is { } h ? ", " + h : "")})")) +
                    ". See Get-PuoServiceLog for why, or raise -TimeoutSec.", pending[0].Name.TrimStart('/'));
            await Task.Delay(PollInterval, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Converged: as many tasks running as desired (and, after a forced update, all of the new spec),
    /// and no task still running that Swarm wants shut down.
    /// </summary>
    private static async Task<bool> WaitSwarmConvergedAsync(OperationContext ctx, InspectedService service, Stopwatch clock, bool throwOnTimeout)
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
            if (clock.Elapsed + PollInterval > ctx.Timeout)
            {
                var message = $"Swarm service '{service.Name}' did not converge within {ctx.TimeoutSeconds} s: {running}/{desired ?? wanted} running" +
                              (lingering > 0 ? $", {lingering} still stopping" : "") + ". See docker service ps, or raise -TimeoutSec.";
                if (throwOnTimeout)
                    throw new PuoException(ErrorKind.Timeout, "PuoOps.Docker.WaitTimeout", message, service.Name);
                ctx.Log(message);
                return false;
            }
            await Task.Delay(PollInterval, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    private static async Task<string> DescribeSwarmAsync(OperationContext ctx, InspectedService service)
    {
        var running = await ServiceTarget.CountRunningTasksAsync(ctx, service).ConfigureAwait(false);
        return service.DesiredReplicas is { } desired ? $"{running}/{desired} running" : $"{running} running (global)";
    }

    /// <summary>The healthcheck's verdict while running; a stopped container's last verdict means nothing.</summary>
    private static string? HealthOf(ContainerInspectResponse container) =>
        container.State is { Running: true } && container.State.Health?.Status is { Length: > 0 } health && health != "none" ? health : null;
}
