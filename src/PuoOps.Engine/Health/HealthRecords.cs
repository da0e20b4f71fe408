namespace PuoOps;

/// <summary>What a health check looks at: the stack's services, or an endpoint given by URL.</summary>
public enum HealthComponent
{
    Api,
    Mcp,
    Postgres,
    Redis,
    Docker,
    Url,
}

/// <summary>Test-PuoHealth: the verdict of one check of the runbook's health section.</summary>
public sealed class HealthCheck
{
    public string Environment { get; init; } = "";
    public HealthComponent Component { get; init; }
    /// <summary>The URL, server or socket that was checked (never with a password).</summary>
    public string Target { get; init; } = "";
    public Status Status { get; init; }
    /// <summary>How long the answer took; for a check that failed, how long it took to fail.</summary>
    public TimeSpan? Latency { get; init; }
    /// <summary>What was found, or what failed and what to try next.</summary>
    public string Detail { get; init; } = "";
    /// <summary>The HTTP status code, for HTTP checks that got an answer.</summary>
    public int? StatusCode { get; init; }
    /// <summary>When the TLS certificate of an https endpoint expires.</summary>
    public DateTimeOffset? CertificateExpires { get; init; }
    public DateTimeOffset CheckedAt { get; init; }

    public override string ToString() => $"{Component} {Status}: {Detail}";
}

/// <summary>
/// Which checks to run and what an HTTP answer must look like, after Gatus's conditions: the status codes
/// expected, a JSON field of the body and the values it may have, an answer time above which the check is a
/// Warning, and how long an https certificate must still be valid before its expiry is a Warning.
/// </summary>
public sealed class HealthCheckOptions
{
    /// <summary>The JSON field a /health body must have, unless the caller names another.</summary>
    public const string DefaultJsonField = "status";

    /// <summary>The values of <see cref="DefaultJsonField"/> that mean healthy (compared case-insensitively).</summary>
    public static readonly IReadOnlyList<string> DefaultJsonValues = ["ok", "healthy", "up", "pass"];

    /// <summary>The components to check; null means every one the environment has (API, MCP, Docker, and PostgreSQL and Redis when configured).</summary>
    public IReadOnlyList<HealthComponent>? Components { get; init; }

    /// <summary>More endpoints to check, like the runbook's external API check.</summary>
    public IReadOnlyList<Uri> Urls { get; init; } = [];

    /// <summary>Status codes that count as healthy; null means any 2xx.</summary>
    public IReadOnlyList<int>? ExpectedStatusCodes { get; init; }

    /// <summary>
    /// The JSON field (a dotted path, e.g. checks.db.status) the body must have. Null: <see cref="DefaultJsonField"/>
    /// for the API and MCP /health and no body condition for <see cref="Urls"/>; when set, every HTTP check uses it.
    /// </summary>
    public string? JsonField { get; init; }

    /// <summary>The values the JSON field may have; null: <see cref="DefaultJsonValues"/>.</summary>
    public IReadOnlyList<string>? JsonValues { get; init; }

    /// <summary>An answer slower than this makes the check a Warning (the runbook's SLA is 1 s).</summary>
    public TimeSpan WarningLatency { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>An https certificate that expires sooner than this makes the check a Warning.</summary>
    public TimeSpan CertificateExpiryWarning { get; init; } = TimeSpan.FromDays(14);
}

/// <summary>
/// Measure-PuoLatency: the latency percentiles of one run against a URL (from an HdrHistogram), how many requests
/// failed and why, the throughput reached, and a Status against the SLA on P99.
/// </summary>
public sealed class LatencyReport
{
    public string Environment { get; init; } = "";
    public string Url { get; init; } = "";
    /// <summary>"closed loop, concurrency N" or "open loop, R/s".</summary>
    public string Mode { get; init; } = "";
    /// <summary>Requests that ended (answered, failed or timed out); each one's latency is in the percentiles.</summary>
    public long Count { get; init; }
    /// <summary>Requests without a 2xx answer: other status codes, connection failures and timeouts.</summary>
    public long Errors { get; init; }
    public TimeSpan Min { get; init; }
    public TimeSpan P50 { get; init; }
    public TimeSpan P90 { get; init; }
    public TimeSpan P95 { get; init; }
    public TimeSpan P99 { get; init; }
    public TimeSpan P999 { get; init; }
    public TimeSpan Max { get; init; }
    public TimeSpan Mean { get; init; }
    /// <summary>Requests that ended per second of the run.</summary>
    public double RequestsPerSecond { get; init; }
    /// <summary>From the first request to the end of the last.</summary>
    public TimeSpan Elapsed { get; init; }
    /// <summary>The P99 limit the Status is judged against.</summary>
    public TimeSpan Sla { get; init; }
    /// <summary>OK; Warning when some requests failed; Critical when P99 is over the SLA or every request failed; Unknown when none was sent.</summary>
    public Status Status { get; init; }
    public string Detail { get; init; } = "";
    /// <summary>The latencies in log-spaced buckets from Min to Max, to draw the distribution.</summary>
    public IReadOnlyList<LatencyBucket> Distribution { get; init; } = [];
    /// <summary>Failed requests by kind: "HTTP 500", "timeout", "ConnectionRefused", ...</summary>
    public IReadOnlyDictionary<string, long> ErrorsByKind { get; init; } = new Dictionary<string, long>();

    public override string ToString() => $"{Url} {Mode}: P99 {P99.TotalMilliseconds:0.###} ms, {Count} requests, {Errors} errors";
}

/// <summary>How many latencies of a run fell between From (exclusive) and To (inclusive).</summary>
public sealed record LatencyBucket(TimeSpan From, TimeSpan To, long Count);
