using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>
/// What a service name means on this host: the containers of a compose service, or a Swarm service.
/// Read before acting, so ShouldProcess and -WhatIf can say exactly what would change.
/// </summary>
public sealed class ServiceTarget
{
    public const string Compose = "Compose";
    public const string Swarm = "Swarm";

    private ServiceTarget(string service, string kind, string name, string description)
    {
        Service = service;
        Kind = kind;
        Name = name;
        Description = description;
    }

    /// <summary>The name as asked (api).</summary>
    public string Service { get; }

    /// <summary><see cref="Compose"/> or <see cref="Swarm"/>.</summary>
    public string Kind { get; }

    /// <summary>project/service for compose, the Swarm service's name otherwise.</summary>
    public string Name { get; }

    /// <summary>For prompts: the service and its containers or replicas with their state.</summary>
    public string Description { get; }

    /// <summary>Compose: the service's containers, sorted by replica number.</summary>
    internal IReadOnlyList<ContainerListResponse> Containers { get; private init; } = [];

    /// <summary>Swarm: the service as inspected.</summary>
    internal InspectedService? SwarmService { get; private init; }

    internal string? Project { get; private init; }

    /// <summary>
    /// The compose service <paramref name="service"/> of <paramref name="project"/>, else the Swarm service
    /// named <paramref name="service"/> or <c>project_service</c> (a stack's naming); NotFound when neither exists.
    /// </summary>
    public static async Task<ServiceTarget> ResolveAsync(OperationContext ctx, string? project, string service)
    {
        var containers = await ContainerService.ListRawAsync(ctx, project, [service]).ConfigureAwait(false);
        var compose = containers.Where(c => c.Labels.ContainsKey(ContainerService.ServiceLabel))
            .OrderBy(c => ContainerService.NumberOf(c.Labels) ?? 0).ThenBy(ContainerStatsService.NameOf, StringComparer.Ordinal).ToList();
        if (compose.Count > 0)
            return ForCompose(project, service, compose);

        foreach (var name in project is null ? [service] : new[] { service, $"{project}_{service}" })
        {
            if (await FindSwarmServiceAsync(ctx, name).ConfigureAwait(false) is { } swarm)
                return await ForSwarmAsync(ctx, service, swarm).ConfigureAwait(false);
        }
        var where = project is null ? "in any compose project" : $"in compose project '{project}'";
        throw new PuoException(ErrorKind.NotFound, "PuoOps.Docker.ServiceNotFound",
            $"No service '{service}' {where} and no Swarm service of that name on {ctx.Environment.DockerHost}. " +
            "List containers with Get-PuoContainer (-Project or -All).", service);
    }

    /// <summary>Reads the target again, for the state after an action.</summary>
    internal Task<ServiceTarget> RefreshAsync(OperationContext ctx) =>
        Kind == Compose ? ResolveComposeAsync(ctx) : RefreshSwarmAsync(ctx);

    private async Task<ServiceTarget> ResolveComposeAsync(OperationContext ctx)
    {
        var containers = await ContainerService.ListRawAsync(ctx, Project, [Service]).ConfigureAwait(false);
        return ForCompose(Project, Service, containers.Where(c => c.Labels.ContainsKey(ContainerService.ServiceLabel))
            .OrderBy(c => ContainerService.NumberOf(c.Labels) ?? 0).ToList());
    }

    private async Task<ServiceTarget> RefreshSwarmAsync(OperationContext ctx) =>
        await ForSwarmAsync(ctx, Service, await InspectSwarmAsync(ctx, SwarmService!.ID).ConfigureAwait(false)).ConfigureAwait(false);

    private static ServiceTarget ForCompose(string? project, string service, IReadOnlyList<ContainerListResponse> containers)
    {
        var composeProject = project ?? containers.Select(c => c.Labels[ContainerService.ProjectLabel]).FirstOrDefault() ?? "";
        var states = string.Join(", ", containers.Select(c => $"{ContainerStatsService.NameOf(c)} {c.State}"));
        return new ServiceTarget(service, Compose, $"{composeProject}/{service}",
            $"compose service '{service}' of project '{composeProject}' ({containers.Count} container(s): {states})")
        {
            Containers = containers,
            Project = composeProject,
        };
    }

    private static async Task<ServiceTarget> ForSwarmAsync(OperationContext ctx, string service, InspectedService swarm)
    {
        var running = await CountRunningTasksAsync(ctx, swarm).ConfigureAwait(false);
        var mode = swarm.DesiredReplicas is { } replicas ? $"{running}/{replicas} replicas running" : $"global, {running} running";
        return new ServiceTarget(service, Swarm, swarm.Name, $"Swarm service '{swarm.Name}' ({mode})") { SwarmService = swarm };
    }

    internal int? DesiredReplicas => SwarmService?.DesiredReplicas is { } r ? (int)r : null;

    internal static async Task<InspectedService> InspectSwarmAsync(OperationContext ctx, string idOrName) =>
        InspectedService.From(await DockerConnections.CallAsync(ctx, "Inspecting the Swarm service", idOrName,
            (client, token) => client.Swarm.InspectServiceAsync(idOrName, token)).ConfigureAwait(false), ctx.Environment.DockerHost);

    /// <summary>The Swarm service, or null when there is none by that name or this daemon is not in a swarm.</summary>
    private static async Task<InspectedService?> FindSwarmServiceAsync(OperationContext ctx, string name)
    {
        try
        {
            return await InspectSwarmAsync(ctx, name).ConfigureAwait(false);
        }
        catch (PuoException ex) when (ex.Kind == ErrorKind.NotFound || ex.ErrorId == "PuoOps.Docker.NotASwarmManager")
        {
            return null;
        }
    }

    internal static async Task<IList<TaskResponse>> ListTasksAsync(OperationContext ctx, InspectedService swarm) =>
        await DockerConnections.CallAsync(ctx, "Listing the Swarm service's tasks", swarm.Name, (client, token) =>
            client.Tasks.ListAsync(new TasksListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [swarm.ID] = true } },
            }, token)).ConfigureAwait(false);

    internal static async Task<int> CountRunningTasksAsync(OperationContext ctx, InspectedService swarm) =>
        (await ListTasksAsync(ctx, swarm).ConfigureAwait(false)).Count(t => t.Status?.State == TaskState.Running && t.DesiredState == TaskState.Running);
}

/// <summary>
/// A Swarm service as inspected, with what every daemon sends (its spec, task template and version) checked
/// once by <see cref="From"/>, so the code that changes the spec never sends back a half-empty one.
/// </summary>
/// <param name="Version">The spec's version index, which an update must name.</param>
internal sealed record InspectedService(string ID, ulong Version, ServiceSpec Spec, TaskSpec TaskTemplate)
{
    public string Name => Spec.Name ?? ID;

    /// <summary>The replica count asked for; null for a global service.</summary>
    public ulong? DesiredReplicas => Spec.Mode?.Replicated is { } replicated ? replicated.Replicas ?? 0 : null;

    public bool Tty => TaskTemplate.ContainerSpec?.TTY ?? false;

    public static InspectedService From(SwarmService service, string host) =>
        service is { Spec.TaskTemplate: { } template, Version.Index: { } version }
            ? new InspectedService(service.ID, version, service.Spec, template)
            : throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.IncompleteAnswer",
                $"Docker at {host} described Swarm service {service.ID} without its spec or version; nothing was changed. Check it with docker service inspect.", service.ID);
}
