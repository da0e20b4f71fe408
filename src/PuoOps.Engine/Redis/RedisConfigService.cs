using System.Runtime.CompilerServices;

namespace PuoOps.Engine.Redis;

/// <summary>
/// The runbook's "redis-cli CONFIG GET maxmemory", by glob pattern. Secrets never leave it: requirepass, masterauth
/// and any setting whose name says pass, secret or auth come back redacted (an empty one stays empty: none is set).
/// </summary>
public static class RedisConfigService
{
    public const string RedactedValue = "********";

    private static readonly string[] SecretWords = ["pass", "secret", "auth"];

    internal static bool IsSecret(string name) => SecretWords.Any(word => name.Contains(word, StringComparison.OrdinalIgnoreCase));

    public static async IAsyncEnumerable<RedisConfigSetting> GetAsync(OperationContext ctx, IReadOnlyList<string> patterns,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        foreach (var primary in await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false))
        {
            await RedisConnections.RequireCommandAsync(ctx, primary.Server, "CONFIG").ConfigureAwait(false);
            var settings = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var pattern in patterns)
                foreach (var pair in await RedisConnections.RunAsync(ctx, "CONFIG GET", () => primary.Server.ConfigGetAsync(pattern)).ConfigureAwait(false))
                    settings[pair.Key] = pair.Value;
            foreach (var (name, value) in settings)
                yield return new RedisConfigSetting
                {
                    Environment = ctx.Environment.Name, Server = primary.Name, Name = name,
                    Value = value.Length > 0 && IsSecret(name) ? RedactedValue : value,
                };
        }
    }
}
