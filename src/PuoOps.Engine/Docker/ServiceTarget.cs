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
    internal SwarmService? SwarmService { get; private init; }

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

    private static async Task<ServiceTarget> ForSwarmAsync(OperationContext ctx, string service, SwarmService swarm)
    {
        var running = await CountRunningTasksAsync(ctx, swarm).ConfigureAwait(false);
        var mode = swarm.Spec.Mode?.Replicated is { } replicated ? $"{running}/{replicated.Replicas ?? 0} replicas running" : $"global, {running} running";
        return new ServiceTarget(service, Swarm, swarm.Spec.Name, $"Swarm service '{swarm.Spec.Name}' ({mode})") { SwarmService = swarm };
    }

    internal int? DesiredReplicas => SwarmService?.Spec.Mode?.Replicated?.Replicas is { } r ? (int)r : null;

    internal static Task<SwarmService> InspectSwarmAsync(OperationContext ctx, string idOrName) =>
        DockerConnections.CallAsync(ctx, "Inspecting the Swarm service", idOrName, (client, token) => client.Swarm.InspectServiceAsync(idOrName, token));

    /// <summary>
    /// The Swarm services whose name, or whose name without the <c>project_</c> prefix of a stack, the pattern
    /// matches, with that service name; none when this daemon is not a swarm manager.
    /// </summary>
    private static async Task<List<(string Service, SwarmService Swarm)>> FindSwarmServicesAsync(OperationContext ctx, string? project, NamePattern pattern)
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
        var found = new List<(string, SwarmService)>();
        foreach (var swarm in services)
        {
            var name = swarm.Spec.Name;
            if (pattern.IsMatch(name))
                found.Add((name, swarm));
            else if (prefix is not null && name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && pattern.IsMatch(name[prefix.Length..]))
                found.Add((name[prefix.Length..], swarm));
        }
        return found;
    }

    internal static Task UpdateSwarmAsync(OperationContext ctx, SwarmService service, ServiceSpec spec) =>
        DockerConnections.CallAsync(ctx, "Updating the Swarm service", spec.Name, (client, token) =>
            client.Swarm.UpdateServiceAsync(service.ID, new ServiceUpdateParameters { Service = spec, Version = (long)service.Version.Index }, token));

    internal static async Task<IList<TaskResponse>> ListTasksAsync(OperationContext ctx, SwarmService swarm) =>
        await DockerConnections.CallAsync(ctx, "Listing the Swarm service's tasks", swarm.Spec.Name, (client, token) =>
            client.Tasks.ListAsync(new TasksListParameters
            {
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["service"] = new Dictionary<string, bool> { [swarm.ID] = true } },
            }, token)).ConfigureAwait(false);

    internal static async Task<int> CountRunningTasksAsync(OperationContext ctx, SwarmService swarm) =>
        (await ListTasksAsync(ctx, swarm).ConfigureAwait(false)).Count(t => t.Status?.State == TaskState.Running && t.DesiredState == TaskState.Running);
}
