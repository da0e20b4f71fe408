using System.Diagnostics;
using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>
/// Get-PuoContainerStats: CPU, memory, network, block I/O and PIDs of many containers at once.
/// Every container is read twice with one-shot=true, all containers concurrently, at least <c>interval</c> apart,
/// and CPU % is the difference of the two readings: the same formula as docker stats, over the window between
/// the two readings' timestamps (reported as SampleWindow).
/// The daemon does not read cgroups per request: a stats request subscribes to its stats collector, which, when
/// idle, makes a pass over the containers subscribed at that instant, publishes, sleeps 1 s, and passes again while
/// anyone is subscribed (daemon/stats/collector.go); one-shot only skips the priming frame (daemon/stats.go). So
/// two readings are at least one collector pass, about 1 s, apart whatever the interval, and with many containers
/// the first request's pass starts before the others have subscribed: they are read at the next pass, about 1 s
/// later, and again at the one after. For 15 containers that is about 2 s, which raw HTTP measures too.
/// </summary>
public static class ContainerStatsService
{
    /// <summary>One selected container's outcome: its stats, or why it has none.</summary>
    public sealed record Sample(string Target, ContainerStats? Stats, PuoException? Error);

    public sealed record Thresholds(double CpuWarningPercent, double CpuCriticalPercent, double MemoryWarningPercent, double MemoryCriticalPercent);

    /// <summary>
    /// Samples the containers <paramref name="containers"/> select (names with wildcards, ids or id prefixes), or
    /// when none are given the running containers of <paramref name="project"/> (all when null) of the services
    /// <paramref name="services"/> select. Results come in the order asked (else by name).
    /// </summary>
    public static async Task<IReadOnlyList<Sample>> SampleAsync(OperationContext ctx, IReadOnlyList<NamePattern> containers, string? project,
        IReadOnlyCollection<NamePattern>? services, TimeSpan interval, Thresholds thresholds)
    {
        var clock = Stopwatch.StartNew();
        var listed = await ContainerService.ListRawAsync(ctx, containers.Count > 0 ? null : project, containers.Count > 0 ? null : services).ConfigureAwait(false);
        if (containers.Count == 0 && services?.FirstOrDefault(s => !s.HasWildcards && !listed.Any(c => s.IsMatch(ContainerService.ServiceOf(c.Labels)))) is { } missing)
            throw ContainerService.ServiceNotFound(ctx, project, missing);
        var byId = listed.ToDictionary(c => c.ID);
        var selected = containers.Count > 0
            ? containers.Select(p => ContainerService.Select(ctx, listed, p))
                .SelectMany(m => m.Error is not null ? [(Target: m.Pattern, Match: (ContainerListResponse?)null, m.Error)]
                    : m.Ids.Select(id => (Target: NameOf(byId[id]), Match: (ContainerListResponse?)byId[id], Error: (PuoException?)null)))
                .DistinctBy(s => s.Match?.ID ?? "?" + s.Target).ToList()
            : listed.Where(c => c.State == "running").OrderBy(NameOf, StringComparer.Ordinal)
                .Select(c => (Target: NameOf(c), Match: (ContainerListResponse?)c, Error: (PuoException?)null)).ToList();

        var running = selected.Where(s => s.Match is { State: "running" }).Select(s => s.Match!).DistinctBy(c => c.ID).ToList();
        ctx.Log($"Listed {listed.Count} container(s) in {clock.ElapsedMilliseconds} ms; sampling {running.Count} running, {interval.TotalMilliseconds:0} ms apart.");
        clock.Restart();
        var first = await ReadAllAsync(ctx, running).ConfigureAwait(false);
        ctx.Log($"First readings in {clock.ElapsedMilliseconds} ms.");
        var remaining = interval - clock.Elapsed;
        if (remaining > TimeSpan.Zero)
            await Task.Delay(remaining, ctx.Cancellation).ConfigureAwait(false);
        clock.Restart();
        var second = await ReadAllAsync(ctx, running).ConfigureAwait(false);
        ctx.Log($"Second readings in {clock.ElapsedMilliseconds} ms.");

        return selected.Select(s =>
        {
            if (s.Match is null)
                return new Sample(s.Target, null, s.Error);
            if (s.Match.State != "running")
                return new Sample(s.Target, Idle(ctx, s.Match), null);
            var id = s.Match.ID;
            if ((first[id].Error ?? second[id].Error) is { } error)
                return new Sample(s.Target, null, error);
            return new Sample(s.Target, Compute(ctx, s.Match, first[id].Response!, second[id].Response!, thresholds), null);
        }).ToList();
    }

    private static async Task<Dictionary<string, (ContainerStatsResponse? Response, PuoException? Error)>> ReadAllAsync(OperationContext ctx,
        IReadOnlyList<ContainerListResponse> containers)
    {
        var reads = containers.Select(async c =>
        {
            try
            {
                return (c.ID, Response: await ReadOneShotAsync(ctx, c).ConfigureAwait(false), Error: (PuoException?)null);
            }
            catch (PuoException ex)
            {
                return (c.ID, Response: (ContainerStatsResponse?)null, Error: ex);
            }
        });
        return (await Task.WhenAll(reads).ConfigureAwait(false)).ToDictionary(r => r.ID, r => (r.Response, r.Error));
    }

    private static Task<ContainerStatsResponse> ReadOneShotAsync(OperationContext ctx, ContainerListResponse container) =>
        DockerConnections.CallAsync(ctx, "Reading container stats", NameOf(container), async (client, token) =>
        {
            ContainerStatsResponse? sample = null;
            await client.Containers.GetContainerStatsAsync(container.ID, new ContainerStatsParameters { Stream = false, OneShot = true },
                new Progress(s => sample = s), token).ConfigureAwait(false);
            return sample ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.NoStats",
                $"Docker at {ctx.Environment.DockerHost} returned no stats for {NameOf(container)}.", NameOf(container));
        });

    internal static ContainerStats Compute(OperationContext ctx, ContainerListResponse container, ContainerStatsResponse before, ContainerStatsResponse after,
        Thresholds thresholds)
    {
        // Fields the daemon leaves out (no cgroup controller, an older API) are null: they count as 0, and no memory limit as unknown.
        var cpuDelta = (double)(after.CPUStats?.CPUUsage?.TotalUsage ?? 0) - (before.CPUStats?.CPUUsage?.TotalUsage ?? 0);
        var systemDelta = (double)(after.CPUStats?.SystemUsage ?? 0) - (before.CPUStats?.SystemUsage ?? 0);
        var cpus = after.CPUStats?.OnlineCPUs is > 0 and var online ? online : (uint)(after.CPUStats?.CPUUsage?.PercpuUsage?.Count ?? 1);
        var cpuPercent = systemDelta > 0 && cpuDelta >= 0 ? cpuDelta / systemDelta * cpus * 100 : 0;

        var limit = after.MemoryStats?.Limit ?? 0;
        var usage = MemoryWithoutCache(after.MemoryStats);
        var memoryPercent = limit > 0 ? usage * 100.0 / limit : double.NaN;

        var networks = after.Networks?.Values ?? [];
        var blocks = after.BlkioStats?.IoServiceBytesRecursive ?? [];
        var cpuStatus = Classify(cpuPercent, thresholds.CpuWarningPercent, thresholds.CpuCriticalPercent);
        var memoryStatus = double.IsNaN(memoryPercent) ? Status.OK : Classify(memoryPercent, thresholds.MemoryWarningPercent, thresholds.MemoryCriticalPercent);
        var status = (Status)Math.Max((int)cpuStatus, (int)memoryStatus);
        return new ContainerStats
        {
            Environment = ctx.Environment.Name,
            Status = status,
            Id = container.ID,
            Name = NameOf(container),
            Service = ContainerService.ServiceOf(container.Labels),
            CpuPercent = Math.Round(cpuPercent, 2),
            MemoryUsage = (long)usage,
            MemoryLimit = (long)limit,
            MemoryPercent = double.IsNaN(memoryPercent) ? 0 : Math.Round(memoryPercent, 2),
            NetworkReceivedBytes = (long)networks.Aggregate(0UL, (sum, n) => sum + n.RxBytes),
            NetworkSentBytes = (long)networks.Aggregate(0UL, (sum, n) => sum + n.TxBytes),
            BlockReadBytes = (long)blocks.Where(b => string.Equals(b.Op, "read", StringComparison.OrdinalIgnoreCase)).Aggregate(0UL, (sum, b) => sum + b.Value),
            BlockWrittenBytes = (long)blocks.Where(b => string.Equals(b.Op, "write", StringComparison.OrdinalIgnoreCase)).Aggregate(0UL, (sum, b) => sum + b.Value),
            Pids = (long)(after.PidsStats?.Current ?? 0),
            Read = ContainerService.PointInTime(after.Read),
            SampleWindow = after.Read - before.Read,
            Message = status switch
            {
                Status.OK => "",
                _ when cpuStatus >= memoryStatus => $"CPU {cpuPercent:0.#} % (warning {thresholds.CpuWarningPercent} %, critical {thresholds.CpuCriticalPercent} %).",
                _ => $"Memory {memoryPercent:0.#} % of the limit (warning {thresholds.MemoryWarningPercent} %, critical {thresholds.MemoryCriticalPercent} %).",
            },
        };
    }

    /// <summary>Usage minus the reclaimable page cache, as docker stats shows it (cgroup v1 and v2).</summary>
    private static double MemoryWithoutCache(MemoryStats? memory)
    {
        var usage = memory?.Usage ?? 0;
        var stats = memory?.Stats ?? new Dictionary<string, ulong>();
        if (stats.TryGetValue("total_inactive_file", out var v1) && v1 < usage)
            return usage - v1;
        if (stats.TryGetValue("inactive_file", out var v2) && v2 < usage)
            return usage - v2;
        return usage;
    }

    private static Status Classify(double percent, double warning, double critical) => PuoOps.Thresholds.Classify(percent, warning, critical);

    private static ContainerStats Idle(OperationContext ctx, ContainerListResponse container) => new()
    {
        Environment = ctx.Environment.Name,
        Status = Status.Unknown,
        Id = container.ID,
        Name = NameOf(container),
        Service = ContainerService.ServiceOf(container.Labels),
        Message = $"The container is {container.State}: it has no live stats. Start it with Start-PuoService.",
    };

    internal static string NameOf(ContainerListResponse container) => container.Names.FirstOrDefault()?.TrimStart('/') ?? container.ID[..12];

    /// <summary>Runs the callback inline, unlike System.Progress which posts it to the thread pool after the call returns.</summary>
    private sealed class Progress(Action<ContainerStatsResponse> report) : IProgress<ContainerStatsResponse>
    {
        public void Report(ContainerStatsResponse value) => report(value);
    }
}
