using System.Diagnostics;
using System.Globalization;
using PuoOps.Engine.Backup;
using PuoOps.Engine.Docker;
using PuoOps.Engine.Postgres;
using PuoOps.Engine.Redis;

namespace PuoOps.Engine.Health;

/// <summary>
/// Invoke-PuoDiagnostic: the runbook's quick diagnostics (docker-compose ps, redis-cli INFO, psql -c "SELECT version();")
/// with what an on-call engineer looks at next (health checks, a latency sample, connections, slow queries, the
/// migration version, memory and the largest processes, free disk), as one report. Sections run in parallel, each
/// bounded by the timeout on its own; one that fails or does not finish is Unknown with the reason while the others
/// report. Everything is read-only.
/// </summary>
public static class DiagnosticService
{
    /// <summary>A section's own calls are bounded by the timeout; the section is stopped this much later, so they report first.</summary>
    private static readonly TimeSpan SectionGrace = TimeSpan.FromSeconds(1);

    /// <summary>The runbook's threshold for heavy queries ("> interval '5 seconds'").</summary>
    public static readonly TimeSpan SlowQueryThreshold = TimeSpan.FromSeconds(5);

    /// <summary>The runbook's backup folder ("df -h /backup"), checked when it exists and no backup path is given.</summary>
    public const string DefaultBackupPath = "/backup";

    private const int TopProcesses = 10;
    private const int MaxRows = 20;

    public static async Task<DiagnosticReport> RunAsync(OperationContext ctx, DiagnosticOptions options)
    {
        var started = DateTimeOffset.Now;
        var watch = Stopwatch.StartNew();
        var areas = (options.Areas ?? Enum.GetValues<DiagnosticArea>()).Distinct().Order().ToList();
        var done = 0;
        var sections = await Task.WhenAll(areas.Select(area => Task.Run(async () =>
        {
            var section = await RunSectionAsync(ctx, area, options).ConfigureAwait(false);
            var finished = Interlocked.Increment(ref done);
            ctx.Report(new ProgressInfo("Running diagnostics", $"{finished} of {areas.Count} sections done ({area}: {section.Status})",
                finished * 100 / areas.Count, Completed: finished == areas.Count));
            return section;
        }, ctx.Cancellation))).ConfigureAwait(false);
        return new DiagnosticReport
        {
            Environment = ctx.Environment.Name, Host = System.Environment.MachineName, Started = started, Duration = watch.Elapsed,
            Status = Statuses.Worst(sections.Select(s => s.Status)), Sections = sections,
        };
    }

    /// <summary>What a section found, before it is timed and named.</summary>
    private sealed record Part(Status Status, string Summary, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows,
        IReadOnlyList<object> Items, string? ErrorId = null);

    private static async Task<DiagnosticSection> RunSectionAsync(OperationContext ctx, DiagnosticArea area, DiagnosticOptions options)
    {
        var watch = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        deadline.CancelAfter(ctx.Timeout + SectionGrace);
        var own = new OperationContext(ctx.Environment, ctx.Timeout, deadline.Token, verbose: ctx.Verbose);
        Part part;
        try
        {
            part = await BuildAsync(own, area, options).WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception) when (deadline.IsCancellationRequested && !ctx.Cancellation.IsCancellationRequested)
        {
            part = Failed($"Did not finish within {ctx.TimeoutSeconds} s. Check the services it reads, or raise -TimeoutSec.", "PuoOps.Diagnostic.Timeout");
        }
        catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
        {
            var error = ErrorTranslator.Translate(ex, ctx.Environment);
            part = Failed(error.Message, error.ErrorId);
        }
        ctx.Log($"Diagnostics {area}: {part.Status} in {Units.Duration(watch.Elapsed)}. {part.Summary}");
        return new DiagnosticSection
        {
            Name = area, Status = part.Status, Summary = part.Summary, ErrorId = part.ErrorId, Duration = watch.Elapsed,
            Columns = part.Columns, Rows = part.Rows, Items = part.Items,
        };
    }

    private static Part Failed(string reason, string errorId) => new(Status.Unknown, reason, [], [], [], errorId);

    private static Task<Part> BuildAsync(OperationContext ctx, DiagnosticArea area, DiagnosticOptions options) => area switch
    {
        DiagnosticArea.Containers => ContainersAsync(ctx),
        DiagnosticArea.Health => HealthAsync(ctx),
        DiagnosticArea.Latency => LatencyAsync(ctx),
        DiagnosticArea.Postgres => PostgresAsync(ctx),
        DiagnosticArea.Database => DatabaseAsync(ctx),
        DiagnosticArea.SlowQueries => SlowQueriesAsync(ctx),
        DiagnosticArea.Redis => RedisAsync(ctx),
        DiagnosticArea.Processes => ProcessesAsync(ctx),
        DiagnosticArea.Disk => DiskAsync(ctx, options),
        _ => throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Diagnostic.Section", $"'{area}' is not a diagnostics section.", area),
    };

    // docker-compose ps: every container of the project should run, and be healthy where it has a healthcheck.
    private static async Task<Part> ContainersAsync(OperationContext ctx)
    {
        var project = ctx.Environment.ComposeProject;
        var containers = await ContainerService.ListAsync(ctx, project, null).ConfigureAwait(false);
        var rows = containers.Select(c => Row(c.Name, c.Service ?? "", c.State, c.Health ?? "", c.Status)).ToList();
        string[] columns = ["Name", "Service", "State", "Health", "Status"];
        if (containers.Count == 0)
            return new Part(Status.Warning, $"No container of compose project '{project}' on {ctx.Environment.DockerHost}.", columns, rows, []);
        var down = containers.Where(c => c.State != "running" || c.Health == "unhealthy").ToList();
        var starting = containers.Where(c => c.Health == "starting").ToList();
        var running = containers.Count(c => c.State == "running");
        var summary = $"{running} of {containers.Count} running in project {project}"
            + (down.Count > 0 ? $"; down or unhealthy: {string.Join(", ", down.Select(c => $"{c.Name} ({c.Health ?? c.State})"))}" : "")
            + (starting.Count > 0 ? $"; starting: {string.Join(", ", starting.Select(c => c.Name))}" : "") + ".";
        return new Part(down.Count > 0 ? Status.Critical : starting.Count > 0 ? Status.Warning : Status.OK, summary, columns, rows, containers.ToArray<object>());
    }

    private static async Task<Part> HealthAsync(OperationContext ctx)
    {
        var checks = await HealthCheckService.RunAsync(ctx, new HealthCheckOptions()).ConfigureAwait(false);
        var failing = checks.Where(c => c.Status != Status.OK).ToList();
        var summary = $"{checks.Count} checks: " + string.Join(", ", checks.GroupBy(c => c.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}"))
            + (failing.Count > 0 ? $" ({string.Join("; ", failing.Select(c => $"{c.Component}: {c.Detail}"))})" : "") + ".";
        var rows = checks.Select(c => Row(c.Component.ToString(), c.Status.ToString(), c.Latency is { } l ? Units.Duration(l) : "",
            c.Target, c.Detail)).ToList();
        return new Part(Statuses.Worst(checks.Select(c => c.Status)), summary, ["Component", "Status", "Latency", "Target", "Detail"], rows, checks.ToArray<object>());
    }

    // A short closed-loop sample of the API's /health: enough requests to draw the shape of the latencies, never long.
    private static async Task<Part> LatencyAsync(OperationContext ctx)
    {
        var perRequest = Min(ctx.Timeout, TimeSpan.FromSeconds(2));
        var sampling = new OperationContext(ctx.Environment, perRequest, ctx.Cancellation, verbose: ctx.Verbose);
        var report = await LatencyService.MeasureAsync(sampling, new LatencyOptions
        {
            Url = HealthCheckService.HealthUrl(ctx.Environment.ApiUrl), Count = 200, Duration = Min(ctx.Timeout, TimeSpan.FromSeconds(2)),
        }).ConfigureAwait(false);
        var summary = $"{report.Count} requests to {report.Url}: P50 {Units.Duration(report.P50)}, P99 {Units.Duration(report.P99)}, max {Units.Duration(report.Max)}, {report.Errors} failed. {report.Detail}";
        var rows = new (string Name, TimeSpan Value)[] { ("Min", report.Min), ("P50", report.P50), ("P90", report.P90), ("P99", report.P99), ("Max", report.Max) }
            .Select(p => Row(p.Name, Units.Duration(p.Value))).ToList();
        return new Part(report.Status, summary, ["Percentile", "Latency"], rows, [report]);
    }

    // psql -c "SELECT version();", and connections against max_connections (the "Database Connection Errors" check).
    private static async Task<Part> PostgresAsync(OperationContext ctx)
    {
        var connections = await ConnectionStatService.GetAsync(ctx, 80, 90).ConfigureAwait(false);
        var server = await PostgresHealthService.TestAsync(ctx).ConfigureAwait(false);
        var summary = $"PostgreSQL {server.ServerVersion ?? "(version unknown)"}{(server.InRecovery == true ? " (read-only standby)" : "")} at {server.Target}; "
            + $"{connections.Total} of {connections.MaxConnections} connections ({connections.UsedPercent:0.#}%): {connections.Active} active, {connections.Idle} idle, "
            + $"{connections.IdleInTransaction} idle in transaction.";
        var rows = connections.ByState.OrderByDescending(s => s.Value).Select(s => Row(s.Key, s.Value.ToString(CultureInfo.InvariantCulture))).ToList();
        return new Part(Statuses.Worst([connections.Status, server.Status]), summary, ["State", "Connections"], rows, [server, connections]);
    }

    // After a restore (the runbook's "Verify system"): is the schema at a known migration, and is the data there?
    private static async Task<Part> DatabaseAsync(OperationContext ctx)
    {
        var version = await MigrationService.GetVersionAsync(ctx).ConfigureAwait(false);
        var tables = new List<TableSize>();
        await foreach (var table in TableSizeService.GetAsync(ctx, RelationPattern.All, 5).WithCancellation(ctx.Cancellation).ConfigureAwait(false))
            tables.Add(table);
        var rows = tables.Select(t => Row($"{t.Schema}.{t.Table}", t.EstimatedRows < 0 ? "(not analyzed)" : t.EstimatedRows.ToString("N0", CultureInfo.InvariantCulture),
            Units.Bytes(t.TotalBytes))).ToList();
        string[] columns = ["Table", "Rows (estimate)", "Size"];
        var largest = tables.Count == 0 ? "no tables" : $"largest table {tables[0].Schema}.{tables[0].Table} ({Units.Bytes(tables[0].TotalBytes)})";
        return version.Version is null
            ? new Part(Status.Warning, $"{version.Database} has no alembic_version table: not migrated, or the restore missed it; {largest}.", columns, rows, [version, .. tables])
            : new Part(tables.Count == 0 ? Status.Warning : Status.OK, $"{version.Database} is at migration {version.Version}; {largest}.", columns, rows, [version, .. tables]);
    }

    private static async Task<Part> SlowQueriesAsync(OperationContext ctx)
    {
        var queries = new List<SlowQuery>();
        await foreach (var query in PostgresActivityService.GetSlowQueriesAsync(ctx, SlowQueryThreshold, includeIdleInTransaction: true)
            .WithCancellation(ctx.Cancellation).ConfigureAwait(false))
            queries.Add(query);
        var rows = queries.Take(MaxRows).Select(q => Row(q.Pid.ToString(CultureInfo.InvariantCulture), Units.Duration(q.Duration), q.State,
            q.User ?? "", OneLine(q.Query, 160))).ToList();
        string[] columns = ["Pid", "Duration", "State", "User", "Query"];
        if (queries.Count == 0)
            return new Part(Status.OK, $"No query running, and no transaction idle, for {Units.Duration(SlowQueryThreshold)} or more.", columns, rows, []);
        var longest = queries[0];
        return new Part(Status.Warning, $"{queries.Count} running or idle in transaction for {Units.Duration(SlowQueryThreshold)} or more; the longest, pid {longest.Pid} "
            + $"({longest.State}), for {Units.Duration(longest.Duration)}. Stop one with Get-PuoSlowQuery | Stop-PuoQuery.",
            columns, rows, queries.Take(MaxRows).ToArray<object>());
    }

    private static readonly string[] RedisSections = ["server", "clients", "memory", "stats", "keyspace"];

    private static readonly string[] RedisFields =
    [
        "redis_version", "redis_mode", "uptime_in_seconds", "connected_clients", "blocked_clients", "used_memory_human", "maxmemory_human",
        "maxmemory_policy", "mem_fragmentation_ratio", "keyspace_hits", "keyspace_misses", "evicted_keys", "rejected_connections",
    ];

    // redis-cli INFO, the sections and fields that say whether the cache is well.
    private static async Task<Part> RedisAsync(OperationContext ctx)
    {
        var sections = new List<RedisInfoSection>();
        await foreach (var section in RedisInfoService.GetAsync(ctx, RedisSections, 80, 90).WithCancellation(ctx.Cancellation).ConfigureAwait(false))
            sections.Add(section);
        var rows = new List<IReadOnlyList<string>>();
        var summaries = new List<string>();
        foreach (var server in sections.GroupBy(s => s.Server))
        {
            var fields = server.SelectMany(s => s.Fields).GroupBy(f => f.Key, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.OrdinalIgnoreCase);
            rows.AddRange(RedisFields.Where(fields.ContainsKey).Select(f => Row(server.Key, f, Convert.ToString(fields[f], CultureInfo.InvariantCulture) ?? "")));
            foreach (var keyspace in fields.Where(f => f.Key.StartsWith("db", StringComparison.Ordinal) && f.Value is string))
                rows.Add(Row(server.Key, keyspace.Key, (string)keyspace.Value));
            var memory = server.OfType<RedisMemoryInfo>().FirstOrDefault();
            var hits = fields.GetValueOrDefault("keyspace_hits") as long? ?? 0;
            var misses = fields.GetValueOrDefault("keyspace_misses") as long? ?? 0;
            summaries.Add($"Redis {fields.GetValueOrDefault("redis_version") ?? "(version unknown)"} at {server.Key}, up "
                + $"{Units.Duration(TimeSpan.FromSeconds(fields.GetValueOrDefault("uptime_in_seconds") as long? ?? 0))}, {fields.GetValueOrDefault("connected_clients") ?? "?"} clients, "
                + (memory?.UsedBytes is { } used ? $"{Units.Bytes(used)} used{(memory.UsedPercent is { } p ? $" ({p:0.#}% of {memory.LimitSource})" : "")}, " : "")
                + (hits + misses > 0 ? $"hit ratio {100.0 * hits / (hits + misses):0.#}%" : "no reads yet"));
        }
        var refused = sections.FirstOrDefault(s => s.Message is not null && s.Status == Status.Unknown);
        return new Part(Statuses.Worst(sections.Select(s => s.Status)), string.Join("; ", summaries) + (refused is null ? "." : $". {refused.Message}"),
            ["Server", "Field", "Value"], rows, sections.ToArray<object>());
    }

    // ps aux | sort -nk 6 | tail: the machine's memory, and the processes holding most of it.
    private static async Task<Part> ProcessesAsync(OperationContext ctx)
    {
        var listing = await ProcessService.ListAsync(ctx, new ProcessQuery { Take = TopProcesses }).ConfigureAwait(false);
        var (total, available) = ProcessService.ReadMemory();
        var usedPercent = total > 0 ? 100.0 * (total - available) / total : double.NaN;
        var largest = string.Join(", ", listing.Processes.Take(3).Select(p => $"{p.Name} {Units.Bytes(p.ResidentBytes)}{(p.Service is null ? "" : $" ({p.Service})")}"));
        var summary = $"Memory {usedPercent:0.#}% used, {Units.Bytes(available)} available of {Units.Bytes(total)}; largest: {largest}."
            + string.Concat(listing.Warnings.Select(w => " " + w));
        var rows = listing.Processes.Select(p => Row(p.Pid.ToString(CultureInfo.InvariantCulture), p.Name, Units.Bytes(p.ResidentBytes),
            p.CpuPercent.ToString("0.0", CultureInfo.InvariantCulture), p.Service ?? p.Container ?? "", OneLine(p.CommandLine, 160))).ToList();
        return new Part(Thresholds.Classify(usedPercent, 90, 95), summary, ["Pid", "Name", "Resident", "CPU %", "Service", "Command"], rows,
            listing.Processes.ToArray<object>());
    }

    // df -h for the data and backup paths.
    private static async Task<Part> DiskAsync(OperationContext ctx, DiagnosticOptions options)
    {
        var notes = new List<string>();
        var paths = new List<(string Role, string Path)>();
        foreach (var path in options.DataPaths ?? await DefaultDataPathsAsync(ctx, notes).ConfigureAwait(false))
            paths.Add(("data", path));
        if (options.BackupPaths is { } backups)
            paths.AddRange(backups.Select(p => ("backup", p)));
        else if (Directory.Exists(DefaultBackupPath))
            paths.Add(("backup", DefaultBackupPath));
        else
            notes.Add($"There is no {DefaultBackupPath} here; name the backup folder with -BackupPath.");
        string[] columns = ["Role", "Path", "Mount", "Free", "Used", "Status"];
        if (paths.Count == 0)
            return new Part(Status.Unknown, "No data or backup path to check. " + string.Join(" ", notes), columns, [], [], "PuoOps.Diagnostic.NoPath");

        var rows = new List<IReadOnlyList<string>>();
        var items = new List<object>();
        var statuses = new List<Status>();
        var findings = new List<string>();
        foreach (var (role, path) in paths)
        {
            try
            {
                var disk = await DiskSpaceService.TestAsync(ctx, path, 80, 90, estimateBackup: role == "backup").ConfigureAwait(false);
                items.Add(disk);
                statuses.Add(disk.Status);
                rows.Add(Row(role, disk.Path, disk.MountPoint, Units.Bytes(disk.FreeBytes), $"{disk.UsedPercent:0.#}%", disk.Status.ToString()));
                findings.Add($"{role} {disk.Path}: {disk.Message}");
            }
            catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
            {
                var error = ErrorTranslator.Translate(ex, ctx.Environment);
                statuses.Add(Status.Unknown);
                rows.Add(Row(role, path, "", "", "", Status.Unknown.ToString()));
                findings.Add($"{role} {path}: {error.Message}");
            }
        }
        return new Part(Statuses.Worst(statuses), string.Join(" ", findings.Concat(notes)), columns, rows, items);
    }

    /// <summary>PostgreSQL's data directory, when the server runs on this machine and tells this user where it is.</summary>
    private static async Task<IReadOnlyList<string>> DefaultDataPathsAsync(OperationContext ctx, List<string> notes)
    {
        if (ctx.Environment.PostgresEndpoint is not { } endpoint)
        {
            notes.Add("The environment has no PostgreSQL, so no data directory; name one with -DataPath.");
            return [];
        }
        if (!endpoint.Host.Split(',').All(h => TransportSecurity.IsLocal(h.Split(':')[0])))
        {
            notes.Add($"PostgreSQL runs on {endpoint.Host}, not on this machine; check its data disk there, or name a path here with -DataPath.");
            return [];
        }
        try
        {
            // pg_settings hides data_directory from users without pg_read_all_settings: no row, rather than an error.
            var directory = await PostgresConnections.ReadAsync(ctx, async connection =>
            {
                await using var command = connection.Command("SELECT setting FROM pg_settings WHERE name = 'data_directory'", ctx);
                return await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false) as string;
            }).ConfigureAwait(false);
            if (directory is not null)
                return [directory];
            notes.Add($"PostgreSQL does not tell {endpoint.User} its data directory (that needs pg_read_all_settings); name it with -DataPath.");
        }
        catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
        {
            notes.Add($"PostgreSQL's data directory is not known: {ErrorTranslator.Translate(ex, ctx.Environment).Message}");
        }
        return [];
    }

    private static string[] Row(params string[] cells) => cells;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Text on one line (whitespace runs collapsed), cut at <paramref name="length"/> characters.</summary>
    private static string OneLine(string text, int length)
    {
        var line = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return line.Length <= length ? line : line[..(length - 3)] + "...";
    }
}

/// <summary>What Invoke-PuoDiagnostic covers and where it looks.</summary>
public sealed class DiagnosticOptions
{
    /// <summary>The sections to run; null runs them all.</summary>
    public IReadOnlyList<DiagnosticArea>? Areas { get; init; }
    /// <summary>Paths on the data disks; null: PostgreSQL's data directory, when it runs on this machine and says where.</summary>
    public IReadOnlyList<string>? DataPaths { get; init; }
    /// <summary>Backup folders; null: /backup when it exists.</summary>
    public IReadOnlyList<string>? BackupPaths { get; init; }
}
