using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>The environment's one ConnectionMultiplexer, created on first use and shared by every cmdlet call.</summary>
internal static class RedisConnections
{
    public static RedisEndpoint Endpoint(OperationContext ctx) =>
        ctx.Environment.RedisEndpoint ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Redis.NotConfigured",
            $"Environment '{ctx.Environment.Name}' has no Redis connection. Set REDIS_URL or run Connect-PuoEnvironment -RedisConnectionString redis://:password@host:6379/0.",
            ctx.Environment.Name);

    public static Task<ConnectionMultiplexer> ConnectAsync(OperationContext ctx)
    {
        var endpoint = Endpoint(ctx);
        return ctx.Environment.GetClientAsync("redis", () =>
        {
            var options = endpoint.CreateOptions();
            // Fail fast with a clear error instead of retrying in the background while a cmdlet waits.
            options.AbortOnConnectFail = true;
            options.ConnectRetry = 1;
            options.ConnectTimeout = options.SyncTimeout = options.AsyncTimeout = (int)ctx.Timeout.TotalMilliseconds;
            options.AllowAdmin = true; // INFO, CONFIG GET, SLOWLOG, FLUSHDB are admin commands
            options.ClientName ??= "PuoOps";
            ctx.Log($"Connecting to Redis at {endpoint.DisplayName}.");
            return ctx.WithTimeoutAsync("PuoOps.Redis.Connect", "Connecting to Redis", endpoint.DisplayName,
                token => ConnectionMultiplexer.ConnectAsync(options).WaitAsync(token));
        });
    }

    /// <summary>The environment's database (the db number of its connection string).</summary>
    public static async Task<IDatabase> DatabaseAsync(OperationContext ctx) =>
        (await ConnectAsync(ctx).ConfigureAwait(false)).GetDatabase(Endpoint(ctx).Database);
}
