using System.Runtime.CompilerServices;

namespace PuoOps.Engine.Redis;

/// <summary>The runbook's "redis-cli CONFIG GET maxmemory", by glob pattern.</summary>
public static class RedisConfigService
{
    public static async IAsyncEnumerable<RedisConfigSetting> GetAsync(OperationContext ctx, IReadOnlyList<string> patterns,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        foreach (var primary in await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false))
        {
            var settings = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var pattern in patterns)
                foreach (var pair in await RedisConnections.RunAsync(ctx, "CONFIG GET", () => primary.Server.ConfigGetAsync(pattern)).ConfigureAwait(false))
                    settings[pair.Key] = pair.Value;
            foreach (var (name, value) in settings)
                yield return new RedisConfigSetting { Environment = ctx.Environment.Name, Server = primary.Name, Name = name, Value = value };
        }
    }
}
