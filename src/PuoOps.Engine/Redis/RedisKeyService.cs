using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>
/// Keys by pattern and the biggest keys, always with SCAN (never KEYS, which blocks the server for the
/// whole keyspace), on every primary of the environment.
/// </summary>
public static class RedisKeyService
{
    private const int PageSize = 1000;

    /// <summary>Keys matching <paramref name="pattern"/>, at most <paramref name="first"/>; type, TTL and memory when <paramref name="details"/>.</summary>
    public static async IAsyncEnumerable<CacheKey> GetAsync(OperationContext ctx, string pattern, long? first, bool details,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        long found = 0;
        foreach (var primary in await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false))
        {
            var page = new List<RedisKey>(PageSize);
            await foreach (var key in ScanAsync(ctx, primary, pattern))
            {
                page.Add(key);
                if (++found == first || page.Count == PageSize)
                {
                    foreach (var described in await DescribeAsync(ctx, primary, page, details).ConfigureAwait(false))
                        yield return described;
                    page.Clear();
                }
                if (found == first)
                    yield break;
            }
            foreach (var described in await DescribeAsync(ctx, primary, page, details).ConfigureAwait(false))
                yield return described;
        }
    }

    /// <summary>
    /// The <paramref name="top"/> keys using the most memory (MEMORY USAGE of each key, pipelined a page at a
    /// time), like redis-cli --memkeys. With <paramref name="sampleSize"/> only that many keys are measured:
    /// SCAN returns keys in hash order, so they are a fair sample of a large keyspace.
    /// </summary>
    public static async Task<IReadOnlyList<CacheKey>> GetBiggestAsync(OperationContext ctx, string pattern, int top, long? sampleSize)
    {
        var primaries = await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false);
        var total = 0L;
        foreach (var primary in primaries)
        {
            // Measuring is the whole point here: no MEMORY is an error, where Get-PuoCacheKey just lists keys without size.
            await RedisConnections.RequireCommandAsync(ctx, primary.Server, "MEMORY").ConfigureAwait(false);
            total += await RedisConnections.RunAsync(ctx, "DBSIZE", () => primary.Server.DatabaseSizeAsync(primary.DatabaseNumber)).ConfigureAwait(false);
        }
        var limit = Math.Min(sampleSize ?? long.MaxValue, total);
        var biggest = new PriorityQueue<(RedisPrimary Primary, RedisKey Key), long>();
        long measured = 0;
        foreach (var primary in primaries)
        {
            var page = new List<RedisKey>(PageSize);
            await foreach (var key in ScanAsync(ctx, primary, pattern))
            {
                page.Add(key);
                if (page.Count == PageSize || measured + page.Count >= limit)
                {
                    measured += await MeasureAsync(ctx, primary, page, biggest, top).ConfigureAwait(false);
                    page.Clear();
                    ctx.Report(new ProgressInfo("Get-PuoBigKey", $"Measured {measured:N0} of {limit:N0} keys on {primary.Name}",
                        limit > 0 ? (int)Math.Min(99, 100 * measured / limit) : -1));
                    if (measured >= limit)
                        break;
                }
            }
            measured += await MeasureAsync(ctx, primary, page, biggest, top).ConfigureAwait(false);
            if (measured >= limit)
                break;
        }
        ctx.Report(new ProgressInfo("Get-PuoBigKey", "Done", 100, Completed: true));
        var result = new List<CacheKey>();
        foreach (var group in biggest.UnorderedItems.GroupBy(item => item.Element.Primary))
            result.AddRange(await DescribeAsync(ctx, group.Key, group.Select(item => item.Element.Key).ToList(), details: true).ConfigureAwait(false));
        return result.OrderByDescending(k => k.MemoryBytes).ToList();
    }

    private static ConfiguredCancelableAsyncEnumerable<RedisKey> ScanAsync(OperationContext ctx, RedisPrimary primary, string pattern) =>
        primary.Server.KeysAsync(primary.DatabaseNumber, pattern, PageSize).WithCancellation(ctx.Cancellation);

    private static async Task<int> MeasureAsync(OperationContext ctx, RedisPrimary primary, List<RedisKey> page,
        PriorityQueue<(RedisPrimary, RedisKey), long> biggest, int top)
    {
        var sizes = await RedisConnections.RunAsync(ctx, "MEMORY USAGE",
            () => Task.WhenAll(page.Select(key => MemoryUsageAsync(primary.Database, key)))).ConfigureAwait(false);
        for (var i = 0; i < page.Count; i++)
        {
            // A min-heap of the best so far: the smallest of them drops out when a bigger key arrives.
            biggest.Enqueue((primary, page[i]), sizes[i] ?? 0);
            if (biggest.Count > top)
                biggest.Dequeue();
        }
        return page.Count;
    }

    private static async Task<IReadOnlyList<CacheKey>> DescribeAsync(OperationContext ctx, RedisPrimary primary, List<RedisKey> keys, bool details)
    {
        if (keys.Count == 0)
            return [];
        if (!details)
            return keys.Select(key => New(ctx, primary, key)).ToList();
        var database = primary.Database;
        var types = keys.Select(key => database.KeyTypeAsync(key)).ToArray();
        var ttls = keys.Select(key => database.KeyTimeToLiveAsync(key)).ToArray();
        // Where the server has no MEMORY command (renamed or disabled), keys are listed without their size.
        var hasMemory = await RedisConnections.HasCommandAsync(ctx, primary.Server, "MEMORY").ConfigureAwait(false) != false;
        var memory = keys.Select(key => hasMemory ? TryMemoryUsageAsync(ctx, database, key) : Task.FromResult<long?>(null)).ToArray();
        await RedisConnections.RunAsync(ctx, "TYPE, PTTL and MEMORY USAGE", async () =>
        {
            await Task.WhenAll(types.Concat<Task>(ttls).Concat(memory)).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
        return keys.Select((key, i) => New(ctx, primary, key, TypeName(types[i].Result), ttls[i].Result, memory[i].Result)).ToList();
    }

    private static CacheKey New(OperationContext ctx, RedisPrimary primary, RedisKey key, string? type = null, TimeSpan? ttl = null, long? memory = null) =>
        new()
        {
            Environment = ctx.Environment.Name, Server = primary.Name, Database = primary.DatabaseNumber, Key = key.ToString(),
            Type = type, Ttl = ttl, MemoryBytes = memory,
        };

    private static string TypeName(RedisType type) => type switch
    {
        RedisType.SortedSet => "zset",
        RedisType.None => "none",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>MEMORY USAGE in bytes; null when the key is gone. Throws when the server refuses the command.</summary>
    private static async Task<long?> MemoryUsageAsync(IDatabase database, RedisKey key)
    {
        var reply = await database.ExecuteAsync("MEMORY", ["USAGE", key], CommandFlags.None).ConfigureAwait(false);
        return reply.IsNull ? null : (long)reply;
    }

    /// <summary>Like <see cref="MemoryUsageAsync"/>, but null where the ACL user may not run MEMORY: listing keys must still work there.</summary>
    private static async Task<long?> TryMemoryUsageAsync(OperationContext ctx, IDatabase database, RedisKey key)
    {
        try
        {
            return await MemoryUsageAsync(database, key).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisConnections.IsRefused(ex, ctx, out _))
        {
            return null;
        }
    }
}
