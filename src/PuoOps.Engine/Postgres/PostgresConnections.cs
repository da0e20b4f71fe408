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

    /// <summary>
    /// A connection to another database of the environment's server (backup, restore, migration, scratch
    /// databases), opened like <see cref="OpenAsync"/>: the same -TimeoutSec, Ctrl+C and error translation. It
    /// is not pooled, so that no idle connection of ours ever blocks a DROP or RENAME of that database.
    /// </summary>
    public static async Task<NpgsqlConnection> OpenDatabaseAsync(OperationContext ctx, string database)
    {
        var endpoint = Endpoint(ctx);
        var builder = new NpgsqlConnectionStringBuilder(endpoint.ConnectionString) { Database = database, Pooling = false };
        var target = $"{endpoint.User}@{endpoint.Host}:{endpoint.Port}/{database}";
        ctx.Log($"Opening a PostgreSQL connection to {target}.");
        try
        {
            return await ctx.WithTimeoutAsync("PuoOps.Postgres.Connect", "Connecting to PostgreSQL", target, async token =>
            {
                var connection = new NpgsqlConnection(builder.ConnectionString);
                try
                {
                    await connection.OpenAsync(token).WaitAsync(token).ConfigureAwait(false);
                    return connection;
                }
                catch
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not PuoException && (ex is not OperationCanceledException || !ctx.Cancellation.IsCancellationRequested))
        {
            var error = ErrorTranslator.Translate(ex, ctx.Environment);
            throw new PuoException(error.Kind, error.ErrorId, $"Connecting to {target}: {error.Message}", target, ex);
        }
    }

    /// <summary>A command that gives up after the context's timeout (0 = never, for long maintenance).</summary>
    public static NpgsqlCommand Command(this NpgsqlConnection connection, string sql, OperationContext ctx, bool unlimited = false) =>
        new(sql, connection) { CommandTimeout = unlimited ? 0 : ctx.TimeoutSeconds };
}
