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

    /// <summary>The service's name: the compose service label, or the Swarm service's name (without a stack's project_ prefix).</summary>
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
    /// The services <paramref name="pattern"/> selects: compose services of <paramref name="project"/> (every
    /// project when null) by their service label, and Swarm services by name or as <c>project_service</c> (a
    /// stack's naming); a compose service hides a Swarm service of the same name. Sorted by name. A name without
    /// wildcards that matches nothing is NotFound; a wildcard that matches nothing returns nothing.
    /// </summary>
    public static async Task<IReadOnlyList<ServiceTarget>> ResolveAsync(OperationContext ctx, string? project, NamePattern pattern)
    {
        var containers = await ContainerService.ListRawAsync(ctx, project, [pattern]).ConfigureAwait(false);
        var targets = containers.Where(c => c.Labels.ContainsKey(ContainerService.ServiceLabel))
            .GroupBy(c => (Project: c.Labels.TryGetValue(ContainerService.ProjectLabel, out var p) ? p : "", Service: c.Labels[ContainerService.ServiceLabel]))
            .Select(g => ForCompose(g.Key.Project, g.Key.Service,
                g.OrderBy(c => ContainerService.NumberOf(c.Labels) ?? 0).ThenBy(ContainerStatsService.NameOf, StringComparer.Ordinal).ToList()))
            .ToList();
        foreach (var (service, swarm) in await FindSwarmServicesAsync(ctx, project, pattern).ConfigureAwait(false))
            if (!targets.Any(t => string.Equals(t.Service, service, StringComparison.OrdinalIgnoreCase)))
                targets.Add(await ForSwarmAsync(ctx, service, swarm).ConfigureAwait(false));
        if (targets.Count == 0 && !pattern.HasWildcards)
        {
            var where = project is null ? "in any compose project" : $"in compose project '{project}'";
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Docker.ServiceNotFound",
                $"No service '{pattern}' {where} and no Swarm service of that name on {ctx.Environment.DockerHost}. " +
                "List containers with Get-PuoContainer (-Project or -All).", pattern.Text);
        }
        return targets.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
    }

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

    /// <summary>
    /// The Swarm services whose name, or whose name without the <c>project_</c> prefix of a stack, the pattern
    /// matches, with that service name; none when this daemon is not a swarm manager.
    /// </summary>
    private static async Task<List<(string Service, InspectedService Swarm)>> FindSwarmServicesAsync(OperationContext ctx, string? project, NamePattern pattern)
    {
        IEnumerable<SwarmService> services;
        try
        {
            services = await DockerConnections.CallAsync(ctx, "Listing the Swarm services", null,
                (client, token) => client.Swarm.ListServicesAsync(null, token)).ConfigureAwait(false);
        }
        catch (PuoException ex) when (ex.ErrorId == "PuoOps.Docker.NotASwarmManager")
        {
            return [];
        }
        var prefix = project is null ? null : project + "_";
        var found = new List<(string, InspectedService)>();
        foreach (var swarm in services.Select(s => InspectedService.From(s, ctx.Environment.DockerHost)))
        {
            if (pattern.IsMatch(swarm.Name))
                found.Add((swarm.Name, swarm));
            else if (prefix is not null && swarm.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && pattern.IsMatch(swarm.Name[prefix.Length..]))
                found.Add((swarm.Name[prefix.Length..], swarm));
        }
        return found;
    }

    /// <summary>Sends a changed spec back, naming the version it was read at.</summary>
    internal static Task UpdateSwarmAsync(OperationContext ctx, InspectedService service) =>
        DockerConnections.CallAsync(ctx, "Updating the Swarm service", service.Name, (client, token) =>
            client.Swarm.UpdateServiceAsync(service.ID, new ServiceUpdateParameters { Service = service.Spec, Version = (long)service.Version }, token));

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
