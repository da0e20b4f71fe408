using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
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
            options.SyncTimeout = options.AsyncTimeout = (int)ctx.Timeout.TotalMilliseconds;
            // The client reports a refused or failed connect only when its own connect timeout ends, so keep that
            // inside ours: a closed port is then a connection error, and only a hung server a timeout.
            options.ConnectTimeout = (int)(ctx.Timeout.TotalMilliseconds * 0.8);
            options.AllowAdmin = true; // INFO, CONFIG GET, SLOWLOG, FLUSHDB are admin commands
            options.ClientName ??= "PuoOps";
            ctx.Log($"Connecting to Redis at {endpoint.DisplayName}.");
            return ctx.WithTimeoutAsync("PuoOps.Redis.Connect", "Connecting to Redis", endpoint.DisplayName,
                async token =>
                {
                    try
                    {
                        return await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(token).ConfigureAwait(false);
                    }
                    // The TLS handshake refused (raised bare, or inside the client's RedisConnectionException).
                    catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException || ex.InnerException is System.Security.Authentication.AuthenticationException)
                    {
                        throw new PuoException(ErrorKind.Connection, "PuoOps.Redis.Tls",
                            $"TLS to Redis at {endpoint.DisplayName} failed: {(ex as System.Security.Authentication.AuthenticationException ?? ex.InnerException)!.Message} Check that its certificate is signed by the CA given " +
                            "(-RedisCertPath's ca.pem, or the URL's ssl_ca_certs) and names the host.", endpoint.DisplayName, ex);
                    }
                });
        });
    }

    /// <summary>The environment's database (the db number of its connection string).</summary>
    public static async Task<IDatabase> DatabaseAsync(OperationContext ctx) =>
        (await ConnectAsync(ctx).ConfigureAwait(false)).GetDatabase(Endpoint(ctx).Database);

    /// <summary>
    /// Every connected primary: one for a single server, each master of a Redis Cluster (SCAN, FLUSHDB and
    /// the slow log are per server, so a cluster-wide operation must visit them all).
    /// </summary>
    public static async Task<IReadOnlyList<RedisPrimary>> PrimariesAsync(OperationContext ctx)
    {
        var multiplexer = await ConnectAsync(ctx).ConfigureAwait(false);
        var endpoint = Endpoint(ctx);
        var servers = multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToList();
        if (servers.Count == 0)
            throw new PuoException(ErrorKind.Connection, "PuoOps.Redis.NoPrimary",
                $"Redis at {endpoint.DisplayName} has no connected primary (only replicas, or the connection dropped). Check it with Test-PuoRedis.",
                endpoint.DisplayName);
        var cluster = servers.Any(s => s.ServerType == ServerType.Cluster);
        var database = multiplexer.GetDatabase(endpoint.Database);
        return servers.Select(s => new RedisPrimary(s, database, endpoint.Database, cluster)).ToList();
    }

    /// <summary>
    /// Awaits one Redis call bounded by the context's timeout and Ctrl+C, whatever timeout the shared
    /// multiplexer was created with; expiry becomes a Timeout error naming the server.
    /// </summary>
    public static Task<T> RunAsync<T>(OperationContext ctx, string what, Func<Task<T>> operation) =>
        ctx.WithTimeoutAsync("PuoOps.Redis.Timeout", what, Endpoint(ctx).DisplayName, token => operation().WaitAsync(token));

    /// <summary>
    /// <see cref="RunAsync{T}"/> for a step that deletes: once sent, the server runs it whatever this client does, so Ctrl+C
    /// waits for its reply (within the timeout) instead of abandoning it. The caller stops before its next step, and no key
    /// goes after the cmdlet has stopped.
    /// </summary>
    public static Task<T> RunDeleteStepAsync<T>(OperationContext ctx, string what, Func<Task<T>> operation) =>
        RunAsync(new OperationContext(ctx.Environment, ctx.Timeout, CancellationToken.None, verbose: ctx.Verbose), what, operation);

    /// <summary>True when the server refused a command for the connection's ACL user (the NOPERM error code).</summary>
    public static bool IsRefused(Exception exception, OperationContext ctx, out string message)
    {
        var error = ErrorTranslator.Translate(exception, ctx.Environment);
        message = error.Message;
        return error.ErrorId == "PuoOps.Redis.CommandDisabled";
    }

    // Per connection (a multiplexer) and server: the commands asked about, and whether the server has them.
    private static readonly ConditionalWeakTable<IConnectionMultiplexer, ConcurrentDictionary<(string Server, string Command), bool?>> KnownCommands = new();

    /// <summary>
    /// Whether <paramref name="server"/> has <paramref name="command"/> under that name, in the server's own words: COMMAND INFO
    /// answers nil for a command it does not have, also one that rename-command renamed or disabled (as EVAL is where scripting is
    /// turned off). Null when the server will not say (COMMAND itself renamed, or not allowed to the ACL user): then try the command
    /// and take its error. Asked once per server of a connection; asked again after a reconnect, since a rename needs a restart.
    /// </summary>
    public static async Task<bool?> HasCommandAsync(OperationContext ctx, IServer server, string command)
    {
        var known = KnownCommands.GetValue(server.Multiplexer, multiplexer =>
        {
            var commands = new ConcurrentDictionary<(string, string), bool?>();
            multiplexer.ConnectionRestored += (_, _) => commands.Clear();
            return commands;
        });
        var key = (RedisEndpoint.FormatEndPoint(server.EndPoint), command.ToUpperInvariant());
        if (known.TryGetValue(key, out var answer))
            return answer;
        try
        {
            var reply = await RunAsync(ctx, "COMMAND INFO", () => server.ExecuteAsync("COMMAND", "INFO", command)).ConfigureAwait(false);
            answer = reply.Resp2Type == ResultType.Array && reply.Length == 1 ? !reply[0].IsNull : null;
        }
        catch (RedisServerException)
        {
            answer = null;
        }
        return known[key] = answer;
    }

    /// <summary>
    /// Before a command a hardened server may have renamed away (rename-command CONFIG ""): where its command table lacks it,
    /// a PermissionDenied error naming it rather than the server's bare ERR. Where the server will not say, the command is
    /// tried and brings its own error.
    /// </summary>
    public static async Task RequireCommandAsync(OperationContext ctx, IServer server, string command)
    {
        if (await HasCommandAsync(ctx, server, command).ConfigureAwait(false) == false)
        {
            var target = RedisEndpoint.FormatEndPoint(server.EndPoint);
            throw ErrorTranslator.RedisCommandDisabled(target,
                $"Redis at {target} does not allow {command.ToUpperInvariant()}: its command table has no {command.ToUpperInvariant()} (renamed or disabled with rename-command in redis.conf).");
        }
    }
}

/// <summary>One primary server and the way to run a raw command against the environment's database on it.</summary>
internal sealed class RedisPrimary(IServer server, IDatabase database, int databaseNumber, bool isCluster)
{
    public IServer Server => server;
    public IDatabase Database => database;
    public int DatabaseNumber => databaseNumber;
    public bool IsCluster => isCluster;
    public string Name => RedisEndpoint.FormatEndPoint(server.EndPoint);

    /// <summary>
    /// A cluster node has only db 0, so the command goes straight to it; a single server is reached through
    /// IDatabase, which SELECTs the environment's db first (IServer.Execute would run in whatever db the
    /// connection last used, which is no place for a delete).
    /// </summary>
    public Task<RedisResult> ExecuteAsync(string command, params object[] args) =>
        isCluster ? server.ExecuteAsync(command, args, CommandFlags.DemandMaster)
                  : database.ExecuteAsync(command, args, CommandFlags.DemandMaster);
}
