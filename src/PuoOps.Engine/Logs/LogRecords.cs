namespace PuoOps;

/// <summary>Search-PuoLog: one line that matched.</summary>
public sealed class LogLine
{
    public string File { get; init; } = "";
    /// <summary>From 1, counted in the file as read (for a .gz file, in its decompressed text).</summary>
    public long LineNumber { get; init; }
    /// <summary>The first timestamp in the line; null when it has none.</summary>
    public DateTimeOffset? Time { get; init; }
    /// <summary>The longest duration written in the line (duration=1234ms, took 1.2s, ...); null when it has none.</summary>
    public TimeSpan? Duration { get; init; }
    /// <summary>The line, without its line ending.</summary>
    public string Line { get; init; } = "";

    public override string ToString() => Line;
}

/// <summary>What a log scan met besides its results, reported by the cmdlets as warnings at the end.</summary>
public sealed class LogScanStats
{
    public long Lines { get; set; }
    /// <summary>Lines longer than a read chunk, matched on their first part only.</summary>
    public long TruncatedLines { get; set; }
    /// <summary>Lines that are not in the expected format (Find-PuoAuthFailure), skipped.</summary>
    public long MalformedLines { get; set; }
}

/// <summary>How an access log's lines are written (Find-PuoAuthFailure -Format).</summary>
public enum AccessLogFormat
{
    /// <summary>nginx's combined format, optionally followed by "$http_x_forwarded_for" (the "main" format).</summary>
    Nginx,
    /// <summary>One JSON object per line, as the API server's structured log writes it.</summary>
    Json,
    /// <summary>A regular expression with named groups (ip, status, time, method, path, request, useragent, forwardedfor).</summary>
    Regex,
}

/// <summary>Find-PuoAuthFailure -Raw: one request that was answered with a status looked for.</summary>
public sealed class AuthFailureRequest
{
    public string File { get; init; } = "";
    public long LineNumber { get; init; }
    public DateTimeOffset? Time { get; init; }
    /// <summary>The client: the connecting address, or the forwarded one when the connection came from a trusted proxy.</summary>
    public string IpAddress { get; init; } = "";
    /// <summary>The address that connected (nginx's $remote_addr).</summary>
    public string RemoteAddress { get; init; } = "";
    public int StatusCode { get; init; }
    public string? Method { get; init; }
    /// <summary>The request path without its query string.</summary>
    public string? Path { get; init; }
    public string? UserAgent { get; init; }
    /// <summary>The whole line; set with -Raw.</summary>
    public string? Line { get; init; }
    /// <summary>
    /// The -TrustedProxy networks the search was given. Block-PuoIpAddress binds them by name and refuses to block them
    /// (unless -Force): a proxy that shows up as a client (its own requests, or no forwarded-for) must not be blocked.
    /// </summary>
    public string[] TrustedProxy { get; init; } = [];

    public override string ToString() => $"{IpAddress} {StatusCode} {Method} {Path}";
}

/// <summary>Find-PuoAuthFailure: the failed requests of one client address.</summary>
public sealed class AuthFailure
{
    /// <summary>The client address; Block-PuoIpAddress binds it by name.</summary>
    public string IpAddress { get; init; } = "";
    /// <summary>Requests with any of the statuses looked for.</summary>
    public long Count { get; init; }
    public long Status401 { get; init; }
    public long Status403 { get; init; }
    public DateTimeOffset? FirstSeen { get; init; }
    public DateTimeOffset? LastSeen { get; init; }
    /// <summary>The most requested paths (without query strings), most first; at most five.</summary>
    public string[] Paths { get; init; } = [];
    /// <summary>The most frequent user agents, most first; at most three.</summary>
    public string[] UserAgents { get; init; } = [];
    /// <summary>
    /// The -TrustedProxy networks the search was given. Block-PuoIpAddress binds them by name and refuses to block them
    /// (unless -Force): a proxy that shows up as a client (its own requests, or no forwarded-for) must not be blocked.
    /// </summary>
    public string[] TrustedProxy { get; init; } = [];

    public override string ToString() => IpAddress;
}
