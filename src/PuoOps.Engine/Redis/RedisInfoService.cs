using System.Globalization;
using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>The runbook's "redis-cli INFO" and "INFO memory", as one typed object per section.</summary>
public static class RedisInfoService
{
    public static async IAsyncEnumerable<RedisInfoSection> GetAsync(OperationContext ctx, IReadOnlyList<string> sections,
        double warningPercent, double criticalPercent, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        Thresholds.Validate(warningPercent, criticalPercent);
        foreach (var primary in await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false))
        {
            // No section: the server's default set, as plain INFO; one call per named section otherwise
            // (INFO with several sections needs Redis 7).
            foreach (var requested in sections.Count == 0 ? [""] : sections)
            {
                var (raw, refusal) = await ReadRawAsync(ctx, primary.Server, requested).ConfigureAwait(false);
                if (raw is null)
                {
                    yield return Build(ctx, primary.Name, requested.Length == 0 ? "all" : requested.ToLowerInvariant(),
                        new Dictionary<string, object>(), warningPercent, criticalPercent, refusal);
                    continue;
                }
                var parsed = Parse(raw);
                if (parsed.Count == 0 && requested.Length > 0)
                    throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Redis.UnknownInfoSection",
                        $"Redis at {primary.Name} has no INFO section '{requested}'. Try server, clients, memory, persistence, stats, replication, cpu, keyspace or all.",
                        requested);
                foreach (var (name, fields) in parsed)
                    yield return Build(ctx, primary.Name, name, fields, warningPercent, criticalPercent, null);
            }
        }
    }

    /// <summary>One INFO section's fields, or null when the server does not allow INFO.</summary>
    internal static async Task<IReadOnlyDictionary<string, object>?> TryReadAsync(OperationContext ctx, IServer server, string section) =>
        (await ReadRawAsync(ctx, server, section).ConfigureAwait(false)).Raw is { } raw ? Parse(raw).FirstOrDefault().Fields : null;

    /// <summary>INFO's text, or (null and) why the server will not give it: it has no INFO command (renamed or disabled), or not for this user.</summary>
    private static async Task<(string? Raw, string? Refusal)> ReadRawAsync(OperationContext ctx, IServer server, string section)
    {
        if (await RedisConnections.HasCommandAsync(ctx, server, "INFO").ConfigureAwait(false) == false)
            return (null, $"Redis at {RedisEndpoint.FormatEndPoint(server.EndPoint)} does not allow INFO: its command table has no INFO (renamed or disabled).");
        try
        {
            return (await RedisConnections.RunAsync(ctx, "INFO", () => server.InfoRawAsync(section)).ConfigureAwait(false) ?? "", null);
        }
        catch (Exception ex) when (RedisConnections.IsRefused(ex, ctx, out var message))
        {
            return (null, message);
        }
    }

    /// <summary>Splits INFO text ("# Memory" headers, "name:value" lines) into sections of typed values.</summary>
    internal static List<(string Section, Dictionary<string, object> Fields)> Parse(string raw)
    {
        var sections = new List<(string, Dictionary<string, object>)>();
        Dictionary<string, object>? current = null;
        foreach (var line in raw.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                current = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
                sections.Add((line.TrimStart('#', ' ').ToLowerInvariant(), current));
                continue;
            }
            var colon = line.IndexOf(':');
            if (colon <= 0 || current is null)
                continue;
            current[line[..colon]] = Typed(line[(colon + 1)..]);
        }
        return sections;
    }

    private static object Typed(string value) =>
        long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) ? integer
        : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) ? real
        : value;

    private static RedisInfoSection Build(OperationContext ctx, string server, string section, Dictionary<string, object> fields,
        double warningPercent, double criticalPercent, string? refusal)
    {
        if (section != "memory")
            return new RedisInfoSection
            {
                Environment = ctx.Environment.Name, Server = server, Section = section, Fields = fields,
                Status = refusal is null ? Status.OK : Status.Unknown, Message = refusal,
            };
        var used = Number(fields, "used_memory");
        var max = Number(fields, "maxmemory");
        var system = Number(fields, "total_system_memory");
        var (limit, source) = max > 0 ? (max, "maxmemory") : system > 0 ? (system, "system memory") : (null, null);
        double? percent = used is not null && limit is not null ? Math.Round(100.0 * used.Value / limit.Value, 1) : null;
        var status = refusal is not null ? Status.Unknown : Thresholds.Classify(percent ?? double.NaN, warningPercent, criticalPercent);
        return new RedisMemoryInfo
        {
            Environment = ctx.Environment.Name, Server = server, Section = section, Fields = fields, Status = status,
            UsedBytes = used, PeakBytes = Number(fields, "used_memory_peak"), RssBytes = Number(fields, "used_memory_rss"),
            MaxMemoryBytes = max, Policy = fields.GetValueOrDefault("maxmemory_policy") as string,
            FragmentationRatio = fields.GetValueOrDefault("mem_fragmentation_ratio") switch { double d => d, long l => l, _ => null },
            UsedPercent = percent, LimitSource = source,
            Message = refusal ?? (percent is null ? "The server reports neither maxmemory nor the machine's memory." :
                $"{percent:0.#} % of {source} used (Warning at {warningPercent} %, Critical at {criticalPercent} %)."),
        };
    }

    private static long? Number(IReadOnlyDictionary<string, object> fields, string name) => fields.GetValueOrDefault(name) as long?;
}
