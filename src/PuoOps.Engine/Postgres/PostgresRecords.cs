namespace PuoOps;

/// <summary>Test-PuoPostgres: like pg_isready, plus authentication, version and round-trip latency.</summary>
public sealed class PostgresHealth
{
    public string Environment { get; init; } = "";
    public string Target { get; init; } = "";
    public Status Status { get; init; }
    public bool Reachable { get; init; }
    public bool Authenticated { get; init; }
    public string? ServerVersion { get; init; }
    public TimeSpan? Latency { get; init; }
    public bool? InRecovery { get; init; }
    public string? Database { get; init; }
    public string? User { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Get-PuoSlowQuery: one backend running (or holding a transaction open) longer than the threshold.</summary>
public sealed class SlowQuery
{
    public string Environment { get; init; } = "";
    public int Pid { get; init; }
    public TimeSpan Duration { get; init; }
    public string State { get; init; } = "";
    public string? WaitEvent { get; init; }
    public string? User { get; init; }
    public string? Database { get; init; }
    public string? Application { get; init; }
    public string? ClientAddress { get; init; }
    public DateTimeOffset? QueryStart { get; init; }
    public DateTimeOffset? TransactionStart { get; init; }
    public string Query { get; init; } = "";
    public int[] BlockedBy { get; init; } = [];
}

/// <summary>Stop-PuoQuery: what was done to one backend.</summary>
public sealed class QueryStopResult
{
    public string Environment { get; init; } = "";
    public int Pid { get; init; }
    public string Action { get; init; } = "";
    public bool Signalled { get; init; }
    public string? User { get; init; }
    public string? Database { get; init; }
    public string? Query { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Get-PuoConnectionStat: connection slots in use against what the server allows.</summary>
public sealed class ConnectionStat
{
    public string Environment { get; init; } = "";
    public Status Status { get; init; }
    public long Total { get; init; }
    public long MaxConnections { get; init; }
    public long ReservedConnections { get; init; }
    /// <summary>max_connections minus the slots reserved for superusers and pg_use_reserved_connections.</summary>
    public long Available { get; init; }
    public double UsedPercent { get; init; }
    public long Active { get; init; }
    public long Idle { get; init; }
    public long IdleInTransaction { get; init; }
    public TimeSpan? OldestIdleInTransaction { get; init; }
    public IReadOnlyDictionary<string, long> ByState { get; init; } = new Dictionary<string, long>();
    public IReadOnlyDictionary<string, long> ByUser { get; init; } = new Dictionary<string, long>();
    public IReadOnlyDictionary<string, long> ByApplication { get; init; } = new Dictionary<string, long>();
}
