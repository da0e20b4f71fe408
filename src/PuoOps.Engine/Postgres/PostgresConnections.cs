using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>Opens pooled connections of an environment's one NpgsqlDataSource.</summary>
internal static class PostgresConnections
{
    public static PostgresEndpoint Endpoint(OperationContext ctx) =>
        ctx.Environment.PostgresEndpoint ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Postgres.NotConfigured",
            $"Environment '{ctx.Environment.Name}' has no PostgreSQL connection. Set DATABASE_URL or run Connect-PuoEnvironment -DatabaseUrl postgres://user@host:5432/db.",
            ctx.Environment.Name);

    public static async Task<NpgsqlConnection> OpenAsync(OperationContext ctx)
    {
        var endpoint = Endpoint(ctx);
        var dataSource = await ctx.Environment.GetClientAsync("postgres",
            () => Task.FromResult(NpgsqlDataSource.Create(endpoint.ConnectionString))).ConfigureAwait(false);
        ctx.Log($"Opening a PostgreSQL connection to {endpoint.DisplayName}.");
        return await ctx.WithTimeoutAsync("PuoOps.Postgres.Connect", "Connecting to PostgreSQL", endpoint.DisplayName,
            token => AbandonableOpen(dataSource, token)).ConfigureAwait(false);
    }

    // Npgsql does not always observe the token while a hung server holds the startup handshake, so stop
    // waiting on our side and dispose the connection if the abandoned attempt succeeds later.
    private static async Task<NpgsqlConnection> AbandonableOpen(NpgsqlDataSource dataSource, CancellationToken token)
    {
        var opening = dataSource.OpenConnectionAsync(token).AsTask();
        try
        {
            return await opening.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!opening.IsCompleted)
        {
            _ = opening.ContinueWith(t => t.Result.Dispose(), TaskContinuationOptions.OnlyOnRanToCompletion);
            throw;
        }
    }

    /// <summary>A command that gives up after the context's timeout (0 = never, for long maintenance).</summary>
    public static NpgsqlCommand Command(this NpgsqlConnection connection, string sql, OperationContext ctx, bool unlimited = false) =>
        new(sql, connection) { CommandTimeout = unlimited ? 0 : ctx.TimeoutSeconds };
}
