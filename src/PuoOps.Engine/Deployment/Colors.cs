using System.Globalization;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;
using PuoOps.Engine.Docker;

namespace PuoOps.Engine.Deployment;

/// <summary>A colour and where its backends come from.</summary>
/// <param name="Services">The Swarm services (without Swarm: the containers) of the colour; empty for colours given with -Color.</param>
internal sealed record ColorBackends(string Color, IReadOnlyList<string> Backends, string Source, IReadOnlyList<string> Services, string? Image);

/// <summary>
/// The colours of an environment: Connect-PuoEnvironment -Color when given, else the Swarm services labelled
/// <c>puo.color</c> (on an engine without Swarm, the running containers so labelled, e.g. compose services), each backend at <c>puo.host</c> (default 127.0.0.1) and its published ports, or for a service on
/// the host network (which publishes none) the ports of its <c>puo.port</c> label. A service labelled
/// <c>puo.upstream</c> belongs only to the environment of that upstream, so one nginx and one swarm can carry several pairs.
/// </summary>
internal static partial class Colors
{
    public const string ColorLabel = "puo.color";
    public const string PortLabel = "puo.port";
    public const string HostLabel = "puo.host";
    public const string UpstreamLabel = "puo.upstream";
    private const string Loopback = "127.0.0.1";

    /// <summary>Connect-PuoEnvironment's check of -Color and -Upstream: names nginx and Swarm labels can carry, backends as host:port.</summary>
    public static void Validate(IReadOnlyDictionary<string, IReadOnlyList<string>>? colors, string? upstream)
    {
        if (upstream is not null && !Word().IsMatch(upstream))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.Upstream",
                $"'{upstream}' is not an nginx upstream name: use letters, digits, '_', '.' or '-'.", upstream);
        if (colors is null)
            return;
        if (colors.Count < 2)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.Colors",
                "-Color needs at least two colours, e.g. @{ blue = '127.0.0.1:18081'; green = '127.0.0.1:18091' }.", "Color");
        foreach (var (color, backends) in colors)
        {
            if (!Word().IsMatch(color))
                throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.Colors",
                    $"'{color}' is not a colour name: use letters, digits, '_', '.' or '-'.", color);
            if (backends.Count == 0)
                throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.Colors", $"Colour '{color}' has no backend.", color);
            foreach (var backend in backends)
                if (Backend().Match(backend) is not { Success: true } match || int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture) is < 1 or > 65535)
                    throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.Colors",
                        $"'{backend}' (colour {color}) is not a backend: give host:port, e.g. 127.0.0.1:18081.", backend);
        }
    }

    public static async Task<IReadOnlyList<ColorBackends>> ResolveAsync(OperationContext ctx)
    {
        if (ctx.Environment.Colors is { } given)
            return given.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => new ColorBackends(c.Key, c.Value, "Environment", [], null)).ToList();
        IList<SwarmService> services;
        try
        {
            services = await ListServicesAsync(ctx).ConfigureAwait(false);
        }
        catch (PuoException ex) when (ex.ErrorId == "PuoOps.Docker.NotASwarmManager")
        {
            return await FromContainersAsync(ctx, ex).ConfigureAwait(false);
        }
        var colors = services
            .Select(s => (Service: s, Labels: s.Spec?.Labels))
            .Where(s => s.Labels is not null && s.Labels.ContainsKey(ColorLabel))
            .GroupBy(s => s.Labels![ColorLabel], StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ColorBackends(g.Key,
                g.SelectMany(s => BackendsOf((s.Service.Endpoint?.Ports ?? []).Where(p => p.PublishedPort > 0).Select(p => (long)p.PublishedPort!.Value), s.Labels!)).Distinct().ToList(),
                "Swarm", g.Select(s => s.Service.Spec!.Name ?? s.Service.ID).ToList(), g.Select(s => s.Service.Spec!.TaskTemplate?.ContainerSpec?.Image).FirstOrDefault(i => i is not null)))
            .ToList();
        if (colors.Count == 0)
            throw NoColors(ctx, "", null);
        return colors;
    }

    /// <summary>
    /// On an engine without Swarm: the running containers labelled puo.color (compose services, or docker run), with the
    /// same labels and port rules as Swarm services.
    /// </summary>
    private static async Task<IReadOnlyList<ColorBackends>> FromContainersAsync(OperationContext ctx, PuoException notSwarm)
    {
        var containers = await DockerConnections.CallAsync(ctx, "Listing the containers labelled puo.color", null, (client, token) =>
            client.Containers.ListContainersAsync(new ContainersListParameters
            {
                Filters = DockerConnections.LabelFilter(ColorLabel),
            }, token)).ConfigureAwait(false);
        var colors = containers
            .Where(c => c.Labels is { } labels && labels.ContainsKey(ColorLabel) && BelongsTo(ctx, labels))
            .GroupBy(c => c.Labels[ColorLabel], StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ColorBackends(g.Key,
                g.SelectMany(c => BackendsOf((c.Ports ?? []).Where(p => p.PublicPort > 0).Select(p => (long)p.PublicPort!.Value), c.Labels)).Distinct().ToList(),
                "Container", g.Select(c => c.Names?.FirstOrDefault()?.TrimStart('/') ?? c.ID).Order(StringComparer.Ordinal).ToList(), g.Select(c => c.Image).FirstOrDefault()))
            .ToList();
        if (colors.Count == 0)
            throw NoColors(ctx, " (the Docker engine is not a Swarm manager, and no running container is labelled puo.color)", notSwarm);
        return colors;
    }

    /// <summary>The Swarm services labelled puo.color (any colour) that belong to the environment's upstream.</summary>
    public static async Task<IList<SwarmService>> ListServicesAsync(OperationContext ctx)
    {
        var services = await DockerConnections.CallAsync(ctx, "Listing the Swarm services labelled puo.color", null, (client, token) =>
            client.Swarm.ListServicesAsync(new ServiceListParameters
            {
                Filters = DockerConnections.LabelFilter(ColorLabel),
            }, token)).ConfigureAwait(false);
        return services.Where(s => s.Spec?.Labels is { } labels && BelongsTo(ctx, labels)).ToList();
    }

    /// <summary>Labels without puo.upstream belong to every environment; with it, only to the environment of that upstream.</summary>
    private static bool BelongsTo(OperationContext ctx, IDictionary<string, string> labels) =>
        !labels.TryGetValue(UpstreamLabel, out var upstream) || upstream == ctx.Environment.Upstream;

    /// <summary>The colour of a listed service.</summary>
    public static string? ColorOf(SwarmService service) => service.Spec?.Labels is { } labels && labels.TryGetValue(ColorLabel, out var color) ? color : null;

    /// <summary>The colour named <paramref name="color"/>, NotFound listing the known ones.</summary>
    public static ColorBackends Find(IReadOnlyList<ColorBackends> colors, string color) =>
        colors.FirstOrDefault(c => string.Equals(c.Color, color, StringComparison.OrdinalIgnoreCase))
        ?? throw new PuoException(ErrorKind.NotFound, "PuoOps.Deployment.NoSuchColor",
            $"There is no colour '{color}'; the colours are {string.Join(", ", colors.Select(c => c.Color))}.", color);

    /// <summary>host:port for each published port and each port of the puo.port label, on puo.host (default 127.0.0.1).</summary>
    private static IEnumerable<string> BackendsOf(IEnumerable<long> published, IDictionary<string, string> labels)
    {
        var host = labels.TryGetValue(HostLabel, out var h) && h.Length > 0 ? h : Loopback;
        var labelled = labels.TryGetValue(PortLabel, out var ports)
            ? ports.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : 0).Where(p => p is > 0 and < 65536)
            : [];
        return published.Concat(labelled).Distinct().Select(port => $"{host}:{port}");
    }

    private static PuoException NoColors(OperationContext ctx, string why, Exception? inner) =>
        new(ErrorKind.NotFound, "PuoOps.Deployment.NoColors",
            $"Environment '{ctx.Environment.Name}' has no colours{why}. Give them with Connect-PuoEnvironment -Color @{{ blue = 'host:port'; green = 'host:port' }}, " +
            $"or run each colour as a Swarm service (without Swarm: a container) labelled {ColorLabel}=<colour> (and {PortLabel}=<port> on the host network).", ctx.Environment.Name, inner);

    [GeneratedRegex(@"^[A-Za-z0-9_.-]+$")]
    private static partial Regex Word();

    [GeneratedRegex(@"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?<port>[0-9]{1,5})$")]
    private static partial Regex Backend();
}
