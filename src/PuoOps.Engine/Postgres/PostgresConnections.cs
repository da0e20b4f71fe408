using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>
/// The one path to an environment's PostgreSQL server: pooled connections of its one NpgsqlDataSource.
/// A pooled connection can be dead when it is handed out: the server restarted, or something ended its
/// session (a restore's swap, pg_terminate_backend). Reads go through <see cref="ReadAsync{T}"/> or
/// <see cref="StreamAsync{T}"/>, which replace such a connection and run the read once more; work that
/// changes state opens with <see cref="OpenAsync"/> and is never retried (ErrorTranslator says so).
/// </summary>
internal static class PostgresConnections
{
    public static PostgresEndpoint Endpoint(OperationContext ctx) =>
        ctx.Environment.PostgresEndpoint ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Postgres.NotConfigured",
            $"Environment '{ctx.Environment.Name}' has no PostgreSQL connection. Set DATABASE_URL or run Connect-PuoEnvironment -DatabaseUrl postgres://user@host:5432/db.",
            ctx.Environment.Name);

    private static Task<NpgsqlDataSource> DataSourceAsync(OperationContext ctx)
    {
        var endpoint = Endpoint(ctx);
        return ctx.Environment.GetClientAsync("postgres", () => Task.FromResult(NpgsqlDataSource.Create(endpoint.ConnectionString)));
    }

    /// <summary>A pooled connection, for work that changes state. Reads use <see cref="ReadAsync{T}"/> or <see cref="StreamAsync{T}"/>.</summary>
    public static async Task<NpgsqlConnection> OpenAsync(OperationContext ctx)
    {
        var endpoint = Endpoint(ctx);
        var dataSource = await DataSourceAsync(ctx).ConfigureAwait(false);
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

    /// <summary>
    /// Runs a read on a pooled connection. If the connection turns out broken (<see cref="IsBroken"/>), the pool
    /// is cleared and the read runs once more on a fresh connection; a second failure is the caller's error.
    /// </summary>
    public static async Task<T> ReadAsync<T>(OperationContext ctx, Func<NpgsqlConnection, Task<T>> read)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await OpenAsync(ctx).ConfigureAwait(false);
                return await read(connection).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt == 1 && IsBroken(ex) && !ctx.Cancellation.IsCancellationRequested)
            {
                await ReplaceAsync(ctx, ex).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Streams a read's rows as they come, retried like <see cref="ReadAsync{T}"/> but only until the first row
    /// is out: a row already handed on is never produced twice.
    /// </summary>
    public static async IAsyncEnumerable<T> StreamAsync<T>(OperationContext ctx, Func<NpgsqlConnection, IAsyncEnumerable<T>> read,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        for (var attempt = 1; ; attempt++)
        {
            NpgsqlConnection? connection = null;
            IAsyncEnumerator<T>? rows = null;
            try
            {
                bool more;
                try
                {
                    connection = await OpenAsync(ctx).ConfigureAwait(false);
                    rows = read(connection).GetAsyncEnumerator(cancellation);
                    more = await rows.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (attempt == 1 && IsBroken(ex) && !ctx.Cancellation.IsCancellationRequested)
                {
                    await ReplaceAsync(ctx, ex).ConfigureAwait(false);
                    continue;
                }
                for (; more; more = await rows.MoveNextAsync().ConfigureAwait(false))
                    yield return rows.Current;
                yield break;
            }
            finally
            {
                if (rows is not null)
                    await rows.DisposeAsync().ConfigureAwait(false);
                if (connection is not null)
                    await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Closes the environment's idle pooled connections, and each busy one when it comes back, so none is handed
    /// out again. For whatever ends sessions on the server: a restore's swap, pg_terminate_backend.
    /// </summary>
    public static async Task ClearPoolAsync(OperationContext ctx)
    {
        (await DataSourceAsync(ctx).ConfigureAwait(false)).Clear();
        ctx.Log($"Cleared the pool of PostgreSQL connections to {Endpoint(ctx).DisplayName}.");
    }

    private static async Task ReplaceAsync(OperationContext ctx, Exception broken)
    {
        ctx.Log($"The pooled connection to {Endpoint(ctx).DisplayName} was broken ({Reason(broken)}); retrying the read once on a fresh connection.");
        await ClearPoolAsync(ctx).ConfigureAwait(false);
    }

    /// <summary>
    /// The connection itself failed, not the statement: the server ended the session (57P01 admin shutdown, as
    /// pg_terminate_backend or a fast shutdown sends; 57P02 crash; 57P03 not accepting connections), a class 08
    /// connection exception, or the socket was reset or closed. A timeout or a refused connect is not this.
    /// </summary>
    public static bool IsBroken(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres:
                    return postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
                           || postgres.SqlState.StartsWith("08", StringComparison.Ordinal);
                case EndOfStreamException:
                    return true;
                case SocketException socket:
                    return socket.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown or SocketError.NotConnected;
                case TimeoutException or OperationCanceledException:
                    return false;
            }
        }
        return false;
    }

    /// <summary>Why the connection broke, for messages: the server's SQLSTATE and text, else the socket's.</summary>
    public static string Reason(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is PostgresException postgres)
                return $"SQLSTATE {postgres.SqlState}: {postgres.MessageText}";
        var innermost = exception;
        while (innermost.InnerException is not null)
            innermost = innermost.InnerException;
        return innermost.Message.TrimEnd('.');
    }

    /// <summary>A command that gives up after the context's timeout (0 = never, for long maintenance).</summary>
    public static NpgsqlCommand Command(this NpgsqlConnection connection, string sql, OperationContext ctx, bool unlimited = false) =>
        new(sql, connection) { CommandTimeout = unlimited ? 0 : ctx.TimeoutSeconds };
}
