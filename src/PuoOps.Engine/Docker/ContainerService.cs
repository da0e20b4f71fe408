using System.Globalization;
using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>Get-PuoContainer: the containers of a compose project (or all), like docker compose ps -a.</summary>
public static class ContainerService
{
    internal const string ProjectLabel = "com.docker.compose.project";
    internal const string ServiceLabel = "com.docker.compose.service";
    internal const string NumberLabel = "com.docker.compose.container-number";
    internal const string SwarmServiceLabel = "com.docker.swarm.service.name";
    private const int InspectConcurrency = 16;

    /// <summary>
    /// Containers of <paramref name="project"/> (every container when null), running or not, limited to the
    /// services <paramref name="services"/> select when given; each inspected (concurrently) for health and
    /// restart count. Sorted by service and replica number. A service name without wildcards that selects no
    /// container is NotFound.
    /// </summary>
    public static async Task<IReadOnlyList<Container>> ListAsync(OperationContext ctx, string? project, IReadOnlyCollection<NamePattern>? services)
    {
        var listed = await ListRawAsync(ctx, project, services).ConfigureAwait(false);
        if (services?.FirstOrDefault(s => !s.HasWildcards && !listed.Any(c => s.IsMatch(ServiceOf(c.Labels)))) is { } missing)
            throw ServiceNotFound(ctx, project, missing);
        var containers = new Container?[listed.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, listed.Count),
            new ParallelOptions { MaxDegreeOfParallelism = InspectConcurrency, CancellationToken = ctx.Cancellation },
            async (i, _) => containers[i] = await InspectOrNullAsync(ctx, listed[i]).ConfigureAwait(false)).ConfigureAwait(false);
        return containers.OfType<Container>()
            .OrderBy(c => c.Project, StringComparer.Ordinal).ThenBy(c => c.Service, StringComparer.Ordinal)
            .ThenBy(c => c.Number ?? 0).ThenBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The names of the containers of <paramref name="project"/> (every container when null), for completion.</summary>
    public static async Task<IReadOnlyList<string>> NamesAsync(OperationContext ctx, string? project) =>
        (await ListRawAsync(ctx, project, null).ConfigureAwait(false)).Select(ContainerStatsService.NameOf).ToList();

    /// <summary>
    /// The compose services of <paramref name="project"/> (every project when null) and, when the daemon is a Swarm
    /// manager, the Swarm services: what -Service takes, for completion.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ServiceNamesAsync(OperationContext ctx, string? project)
    {
        var names = (await ListRawAsync(ctx, project, null).ConfigureAwait(false)).Select(c => ServiceOf(c.Labels)).OfType<string>().ToList();
        try
        {
            var swarm = await DockerConnections.CallAsync(ctx, "Listing Swarm services", null,
                (client, token) => client.Swarm.ListServicesAsync(null, token)).ConfigureAwait(false);
            names.AddRange(swarm.Select(service => service.Spec?.Name).OfType<string>());
        }
        catch (PuoException ex) when (ex.ErrorId == "PuoOps.Docker.NotASwarmManager")
        {
            // not in a swarm: compose services only
        }
        return names;
    }

    /// <summary>The daemon's list, filtered by project label and by service (compose or Swarm service name).</summary>
    internal static async Task<IReadOnlyList<ContainerListResponse>> ListRawAsync(OperationContext ctx, string? project, IReadOnlyCollection<NamePattern>? services)
    {
        var parameters = new ContainersListParameters { All = true };
        if (project is not null)
            parameters.Filters = DockerConnections.LabelFilter($"{ProjectLabel}={project}");
        var listed = await DockerConnections.CallAsync(ctx, "Listing containers", null,
            (client, token) => client.Containers.ListContainersAsync(parameters, token)).ConfigureAwait(false);
        return services is null || services.Count == 0
            ? listed.ToList()
            : listed.Where(c => services.Any(s => s.IsMatch(ServiceOf(c.Labels)))).ToList();
    }

    internal static PuoException ServiceNotFound(OperationContext ctx, string? project, NamePattern service) =>
        new(ErrorKind.NotFound, "PuoOps.Docker.ServiceNotFound",
            $"No service '{service}' {(project is null ? "in any compose project" : $"in compose project '{project}'")} on {ctx.Environment.DockerHost}. " +
            "List containers with Get-PuoContainer (-Project or -All).", service.Text);

    /// <summary>One -Container pattern and the containers it selects, or why none.</summary>
    public sealed record ContainerMatch(string Pattern, IReadOnlyList<string> Ids, PuoException? Error);

    /// <summary>
    /// The containers each pattern selects by name (wildcards allowed); a pattern without wildcards may also be a
    /// container id or an unambiguous id prefix (docker's rule). One without wildcards that selects nothing carries
    /// a NotFound error; one with wildcards just selects nothing.
    /// </summary>
    public static async Task<IReadOnlyList<ContainerMatch>> SelectAsync(OperationContext ctx, IReadOnlyList<NamePattern> patterns)
    {
        var listed = await ListRawAsync(ctx, null, null).ConfigureAwait(false);
        return patterns.Select(p => Select(ctx, listed, p)).ToList();
    }

    internal static ContainerMatch Select(OperationContext ctx, IReadOnlyList<ContainerListResponse> listed, NamePattern pattern)
    {
        var byName = listed.Where(c => c.Names.Any(n => pattern.IsMatch(n.TrimStart('/')))).ToList();
        if (byName.Count == 0 && pattern.Literal is { Length: >= 4 } id)
        {
            var byId = listed.Where(c => c.ID.StartsWith(id, StringComparison.OrdinalIgnoreCase)).Take(2).ToList();
            if (byId.Count == 1)
                byName = byId;
        }
        return new ContainerMatch(pattern.Text, byName.Select(c => c.ID).ToList(), byName.Count > 0 || pattern.HasWildcards ? null
            : new PuoException(ErrorKind.NotFound, "PuoOps.Docker.ContainerNotFound",
                $"No container '{pattern}' on {ctx.Environment.DockerHost}. List them with Get-PuoContainer -All.", pattern.Text));
    }

    /// <summary>Inspects one container into a <see cref="Container"/>; null when it vanished since it was listed.</summary>
    internal static async Task<Container?> InspectOrNullAsync(OperationContext ctx, ContainerListResponse listed)
    {
        try
        {
            var inspected = await InspectAsync(ctx, listed.ID).ConfigureAwait(false);
            return ToContainer(ctx, inspected, listed.Ports, listed.Status);
        }
        catch (PuoException ex) when (ex.Kind == ErrorKind.NotFound)
        {
            return null;
        }
    }

    internal static Task<ContainerInspectResponse> InspectAsync(OperationContext ctx, string idOrName) =>
        DockerConnections.CallAsync(ctx, "Inspecting the container", idOrName,
            (client, token) => client.Containers.InspectContainerAsync(idOrName, token));

    internal static Container ToContainer(OperationContext ctx, ContainerInspectResponse c, IList<PortSummary>? ports, string? status)
    {
        var labels = c.Config?.Labels ?? new Dictionary<string, string>();
        var state = c.State;
        return new Container
        {
            Environment = ctx.Environment.Name,
            Id = c.ID,
            Name = c.Name.TrimStart('/'),
            Project = labels.TryGetValue(ProjectLabel, out var project) ? project : null,
            Service = ServiceOf(labels),
            Number = NumberOf(labels),
            State = state?.Status ?? "",
            Status = status ?? state?.Status ?? "",
            Health = state is { Running: true } && state.Health?.Status is { Length: > 0 } health && health != "none" ? health : null,
            Image = c.Config?.Image ?? c.Image,
            Created = PointInTime(c.Created),
            StartedAt = ParseDockerTime(state?.StartedAt),
            RestartCount = c.RestartCount,
            ExitCode = state is { Running: false } && ParseDockerTime(state.FinishedAt) is not null ? (int)state.ExitCode : null,
            Ports = FormatPorts(ports),
            Labels = new Dictionary<string, string>(labels),
        };
    }

    internal static string? ServiceOf(IDictionary<string, string>? labels) =>
        labels is null ? null
        : labels.TryGetValue(ServiceLabel, out var compose) ? compose
        : labels.TryGetValue(SwarmServiceLabel, out var swarm) ? swarm
        : null;

    internal static int? NumberOf(IDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(NumberLabel, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>A time Docker.DotNet read from the daemon's JSON (UTC) as a point in time.</summary>
    internal static DateTimeOffset PointInTime(DateTime time) =>
        time.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(time, TimeSpan.Zero) : new DateTimeOffset(time.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>Docker reports "0001-01-01T00:00:00Z" for never; that is null here.</summary>
    internal static DateTimeOffset? ParseDockerTime(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time) && time.Year > 1
            ? time
            : null;

    private static string[] FormatPorts(IList<PortSummary>? ports) =>
        ports is null ? []
        : ports.OrderBy(p => p.PrivatePort).ThenBy(p => p.IP, StringComparer.Ordinal)
            .Select(p => p.PublicPort > 0 ? $"{p.IP}:{p.PublicPort}->{p.PrivatePort}/{p.Type}" : $"{p.PrivatePort}/{p.Type}")
            .Distinct().ToArray();
}
