using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>SLOWLOG GET as objects, newest first, with the client that sent each command.</summary>
public static class RedisSlowLogService
{
    public static async IAsyncEnumerable<RedisSlowLogEntry> GetAsync(OperationContext ctx, int count,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        foreach (var primary in await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false))
        {
            await RedisConnections.RequireCommandAsync(ctx, primary.Server, "SLOWLOG").ConfigureAwait(false);
            // Read raw: StackExchange.Redis's CommandTrace drops the client address and name (Redis 4+).
            var reply = await RedisConnections.RunAsync(ctx, "SLOWLOG GET",
                () => primary.Server.ExecuteAsync("SLOWLOG", "GET", count)).ConfigureAwait(false);
            foreach (var entry in (RedisResult[])reply!)
            {
                var fields = (RedisResult[])entry!;
                var arguments = ((RedisResult[])fields[3]!).Select(a => (string?)a ?? "").ToArray();
                yield return new RedisSlowLogEntry
                {
                    Environment = ctx.Environment.Name,
                    Server = primary.Name,
                    Id = (long)fields[0],
                    Time = DateTimeOffset.FromUnixTimeSeconds((long)fields[1]).ToLocalTime(),
                    Duration = TimeSpan.FromTicks((long)fields[2] * 10),
                    Command = string.Join(' ', arguments),
                    Arguments = arguments,
                    ClientAddress = fields.Length > 4 ? NullIfEmpty((string?)fields[4]) : null,
                    ClientName = fields.Length > 5 ? NullIfEmpty((string?)fields[5]) : null,
                };
            }
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
