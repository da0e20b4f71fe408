namespace PuoOps;

/// <summary>The parts of Invoke-PuoDiagnostic's report, in the order it shows them.</summary>
public enum DiagnosticArea
{
    /// <summary>docker compose ps: the environment's compose project.</summary>
    Containers,
    /// <summary>API, MCP, PostgreSQL, Redis and Docker checks (Test-PuoHealth).</summary>
    Health,
    /// <summary>A short latency sample of the API /health (Measure-PuoLatency).</summary>
    Latency,
    /// <summary>SELECT version(), and connections against max_connections.</summary>
    Postgres,
    /// <summary>The database's migration version and largest tables: is the data there (after a restore)?</summary>
    Database,
    /// <summary>Queries running for 5 s or more, and transactions idle that long.</summary>
    SlowQueries,
    /// <summary>redis-cli INFO.</summary>
    Redis,
    /// <summary>Memory use and the processes using most of it (ps aux | sort -nk 6 | tail).</summary>
    Processes,
    /// <summary>Free space for the data and backup paths (df -h).</summary>
    Disk,
}

/// <summary>
/// Invoke-PuoDiagnostic: the runbook's quick diagnostics as one object. Each section has its own Status; the report's
/// Status is the worst of them (Critical, then Unknown, then Warning). Plain data only, so ConvertTo-Json renders it.
/// </summary>
public sealed class DiagnosticReport
{
    public string Environment { get; init; } = "";
    /// <summary>The machine the report was made on (processes and disks are this machine's).</summary>
    public string Host { get; init; } = "";
    public DateTimeOffset Started { get; init; }
    public TimeSpan Duration { get; init; }
    public Status Status { get; init; }
    public IReadOnlyList<DiagnosticSection> Sections { get; init; } = [];
    /// <summary>The HTML page written with -HtmlPath, else null.</summary>
    public string? HtmlPath { get; set; }

    /// <summary>The section of <paramref name="area"/>, or null when the report does not have it.</summary>
    public DiagnosticSection? Section(DiagnosticArea area) => Sections.FirstOrDefault(s => s.Name == area);

    public override string ToString() => $"Diagnostics of {Environment}: {Status}";
}

/// <summary>
/// One part of the report: its verdict, a one-line summary (for a section that could not run: why), the rows an
/// operator reads (Columns and Rows, as text), and the typed objects behind them (Items: the records the matching
/// cmdlet returns, e.g. PuoOps.Container for Containers).
/// </summary>
public sealed class DiagnosticSection
{
    public DiagnosticArea Name { get; init; }
    public Status Status { get; init; }
    public string Summary { get; init; } = "";
    /// <summary>The error id when the section could not run (e.g. PuoOps.Redis.Connect), else null.</summary>
    public string? ErrorId { get; init; }
    public TimeSpan Duration { get; init; }
    public IReadOnlyList<string> Columns { get; init; } = [];
    public IReadOnlyList<IReadOnlyList<string>> Rows { get; init; } = [];
    public IReadOnlyList<object> Items { get; init; } = [];

    public override string ToString() => $"{Name} {Status}: {Summary}";
}
