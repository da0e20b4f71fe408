using PuoOps.Engine.Nginx;
using PuoOps.Engine.Postgres;
using PuoOps.Engine.Redis;

namespace PuoOps.Engine.Environments;

/// <summary>Connect-PuoEnvironment's reachability check of each configured service.</summary>
public static class EnvironmentService
{
    /// <summary>Opens PostgreSQL, pings Redis and finds the named nginx files concurrently; one exception per service that failed.</summary>
    public static async Task<IReadOnlyList<Exception>> CheckAsync(OperationContext ctx)
    {
        var checks = new List<Task>();
        if (ctx.Environment.PostgresEndpoint is not null)
            checks.Add(Task.Run(async () => { await using var _ = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false); }));
        if (ctx.Environment.RedisEndpoint is not null)
            checks.Add(Task.Run(async () => await (await RedisConnections.DatabaseAsync(ctx).ConfigureAwait(false)).PingAsync().ConfigureAwait(false)));
        if (ctx.Environment.NginxConfig is not null || ctx.Environment.NginxPath is not null)
            checks.Add(Task.Run(() => NginxInstance.Check(ctx.Environment)));
        var failures = new List<Exception>();
        foreach (var check in checks)
        {
            try { await check.ConfigureAwait(false); }
            catch (Exception ex) { failures.Add(ex); }
        }
        return failures;
    }
}
