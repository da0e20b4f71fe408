namespace PuoOps;

/// <summary>Test-PuoRedis: the runbook's "redis-cli ping", plus authentication, role, version and round-trip latency.</summary>
public sealed class RedisHealth
{
    public string Environment { get; init; } = "";
    public string Target { get; init; } = "";
    public Status Status { get; init; }
    public bool Reachable { get; init; }
    public bool Authenticated { get; init; }
    public string? Version { get; init; }
    /// <summary>master or slave, as INFO replication says (null when INFO is not allowed).</summary>
    public string? Role { get; init; }
    /// <summary>standalone, cluster or sentinel.</summary>
    public string? Mode { get; init; }
    public TimeSpan? Latency { get; init; }
    public long? ConnectedClients { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Get-PuoRedisInfo: one INFO section of one server; numbers are typed (long or double), the rest strings.</summary>
public class RedisInfoSection
{
    public string Environment { get; init; } = "";
    public string Server { get; init; } = "";
    public string Section { get; init; } = "";
    /// <summary>OK, or Unknown when the server refused INFO (disabled or not permitted).</summary>
    public Status Status { get; init; }
    public IReadOnlyDictionary<string, object> Fields { get; init; } = new Dictionary<string, object>();
    public string? Message { get; init; }
}

/// <summary>Get-PuoRedisInfo -Section memory: the runbook's "INFO memory" with a verdict on how full the server is.</summary>
public sealed class RedisMemoryInfo : RedisInfoSection
{
    public long? UsedBytes { get; init; }
    public long? PeakBytes { get; init; }
    public long? RssBytes { get; init; }
    /// <summary>0 means no maxmemory limit; the percentage is then taken of the machine's memory.</summary>
    public long? MaxMemoryBytes { get; init; }
    public string? Policy { get; init; }
    public double? FragmentationRatio { get; init; }
    public double? UsedPercent { get; init; }
    /// <summary>What UsedPercent is a percentage of: "maxmemory" or "system memory".</summary>
    public string? LimitSource { get; init; }
}

/// <summary>Get-PuoRedisConfig: one CONFIG GET setting.</summary>
public sealed class RedisConfigSetting
{
    public string Environment { get; init; } = "";
    public string Server { get; init; } = "";
    public string Name { get; init; } = "";
    public string Value { get; init; } = "";
}

/// <summary>Get-PuoCacheKey and Get-PuoBigKey: one key, with its type, TTL and memory when asked for.</summary>
public sealed class CacheKey
{
    public string Environment { get; init; } = "";
    public string Server { get; init; } = "";
    public int Database { get; init; }
    public string Key { get; init; } = "";
    public string? Type { get; init; }
    /// <summary>Time to live; null when the key never expires (or details were not asked for).</summary>
    public TimeSpan? Ttl { get; init; }
    public long? MemoryBytes { get; init; }
}

/// <summary>Clear-PuoCache: what a pattern delete or a FLUSHDB did (or, with -WhatIf, would do).</summary>
public sealed class CacheClearResult
{
    public string Environment { get; init; } = "";
    public string Target { get; init; } = "";
    /// <summary>The pattern deleted, or null for FLUSHDB of the whole database.</summary>
    public string? Pattern { get; init; }
    public bool WhatIf { get; init; }
    /// <summary>Keys found (matching the pattern; for FLUSHDB, the database size).</summary>
    public long Scanned { get; init; }
    public long Deleted { get; init; }
    public TimeSpan Duration { get; init; }
    /// <summary>True when -MaxKeys ended the run before the scan finished; matching keys may remain.</summary>
    public bool StoppedEarly { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Get-PuoRedisSlowLog: one SLOWLOG entry.</summary>
public sealed class RedisSlowLogEntry
{
    public string Environment { get; init; } = "";
    public string Server { get; init; } = "";
    public long Id { get; init; }
    public DateTimeOffset Time { get; init; }
    public TimeSpan Duration { get; init; }
    /// <summary>The command line as Redis logged it (long arguments are cut by the server).</summary>
    public string Command { get; init; } = "";
    public string[] Arguments { get; init; } = [];
    public string? ClientAddress { get; init; }
    public string? ClientName { get; init; }
}
