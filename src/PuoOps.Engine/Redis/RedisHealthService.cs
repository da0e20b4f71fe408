using System.Diagnostics;
using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>The runbook's "redis-cli ping", as one check with role, version and latency.</summary>
public static class RedisHealthService
{
    public static async Task<RedisHealth> TestAsync(OperationContext ctx)
    {
        var target = RedisConnections.Endpoint(ctx).DisplayName;
        try
        {
            var primaries = await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false);
            var database = primaries[0].Database;
            // Best of three round trips: one sample is noise.
            var latency = TimeSpan.MaxValue;
            for (var i = 0; i < 3; i++)
            {
                var rtt = await RedisConnections.RunAsync(ctx, "PING", () => database.PingAsync()).ConfigureAwait(false);
                latency = rtt < latency ? rtt : latency;
            }
            var server = primaries[0].Server;
            var mode = primaries[0].IsCluster ? "cluster" : server.ServerType.ToString().ToLowerInvariant();
            var info = await RedisInfoService.TryReadAsync(ctx, server, "server").ConfigureAwait(false);
            if (info is null)
                return new RedisHealth
                {
                    Environment = ctx.Environment.Name, Target = target, Status = Status.OK, Reachable = true, Authenticated = true,
                    Latency = latency, Mode = mode, Role = server.IsReplica ? "slave" : "master",
                    Message = "PONG. INFO is not allowed for this user, so version and clients are not known.",
                };
            var replication = await RedisInfoService.TryReadAsync(ctx, server, "replication").ConfigureAwait(false);
            var clients = await RedisInfoService.TryReadAsync(ctx, server, "clients").ConfigureAwait(false);
            return new RedisHealth
            {
                Environment = ctx.Environment.Name, Target = target, Status = Status.OK, Reachable = true, Authenticated = true,
                Latency = latency, Mode = info.GetValueOrDefault("redis_mode") as string ?? mode,
                Version = info.GetValueOrDefault("redis_version")?.ToString(),
                Role = replication?.GetValueOrDefault("role") as string ?? (server.IsReplica ? "slave" : "master"),
                ConnectedClients = clients?.GetValueOrDefault("connected_clients") as long?,
                Message = $"PONG in {latency.TotalMilliseconds:0.##} ms.",
            };
        }
        catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
        {
            var error = ErrorTranslator.Translate(ex, ctx.Environment);
            return new RedisHealth
            {
                Environment = ctx.Environment.Name, Target = target, Status = Status.Critical,
                // A server that rejects the password is up: redis-cli ping would get an answer (NOAUTH).
                Reachable = error.Kind is ErrorKind.Authentication or ErrorKind.PermissionDenied,
                Message = error.Message,
            };
        }
    }
}
