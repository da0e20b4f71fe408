using Npgsql;
using NpgsqlTypes;

namespace PuoOps.Engine.Postgres;

/// <summary>pg_stat_activity: the runbook's "identify heavy queries" and what to do about them.</summary>
public static class PostgresActivityService
{
    // Active backends are timed from query_start; idle-in-transaction ones from xact_start, since the
    // open transaction (holding locks and snapshots) is the problem, not the last statement.
    private const string SlowQuerySql = """
        SELECT pid, duration, state, wait_event_type, wait_event, usename, datname, application_name,
               host(client_addr), query_start, xact_start, query, pg_blocking_pids(pid)
        FROM (SELECT a.*, CASE WHEN a.state = 'active' THEN now() - a.query_start ELSE now() - a.xact_start END AS duration
              FROM pg_stat_activity a
              WHERE a.pid <> pg_backend_pid()
                AND a.backend_type = 'client backend'
                AND (a.state = 'active'
                     OR (@include_idle AND a.state IN ('idle in transaction', 'idle in transaction (aborted)')))) s
        WHERE duration >= @minimum
        ORDER BY duration DESC
        """;

    public static IAsyncEnumerable<SlowQuery> GetSlowQueriesAsync(OperationContext ctx, TimeSpan minimumDuration, bool includeIdleInTransaction) =>
        PostgresConnections.StreamAsync(ctx, connection => SlowQueriesAsync(connection, ctx, minimumDuration, includeIdleInTransaction));

    private static async IAsyncEnumerable<SlowQuery> SlowQueriesAsync(NpgsqlConnection connection, OperationContext ctx, TimeSpan minimumDuration,
        bool includeIdleInTransaction)
    {
        await WarnIfOthersHiddenAsync(connection, ctx).ConfigureAwait(false);
        await using var command = connection.Command(SlowQuerySql, ctx);
        command.Parameters.AddWithValue("include_idle", includeIdleInTransaction);
        command.Parameters.AddWithValue("minimum", NpgsqlDbType.Interval, minimumDuration);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            yield return new SlowQuery
            {
                Environment = ctx.Environment.Name,
                Pid = reader.GetInt32(0),
                Duration = reader.IsDBNull(1) ? TimeSpan.Zero : reader.GetTimeSpan(1),
                State = reader.IsDBNull(2) ? "" : reader.GetString(2),
                WaitEvent = reader.IsDBNull(4) ? null : $"{reader.GetString(3)}:{reader.GetString(4)}",
                User = NullableString(reader, 5),
                Database = NullableString(reader, 6),
                Application = NullableString(reader, 7),
                ClientAddress = NullableString(reader, 8),
                QueryStart = reader.IsDBNull(9) ? null : reader.GetDateTime(9),
                TransactionStart = reader.IsDBNull(10) ? null : reader.GetDateTime(10),
                Query = NullableString(reader, 11) ?? "",
                BlockedBy = reader.GetFieldValue<int[]>(12),
            };
        }
    }

    /// <summary>
    /// pg_stat_activity shows the state, wait event and query of other roles' sessions only to roles with
    /// pg_read_all_stats (pg_monitor has it); for others those rows look idle, so say what the list cannot contain.
    /// </summary>
    internal static async Task WarnIfOthersHiddenAsync(NpgsqlConnection connection, OperationContext ctx)
    {
        await using var command = connection.Command("SELECT pg_has_role('pg_read_all_stats', 'USAGE'), current_user", ctx);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        if (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false) && !reader.GetBoolean(0))
            ctx.Warn($"Role {reader.GetString(1)} sees the state, wait events and queries of its own sessions only: other roles' sessions are " +
                     "not listed. Grant it pg_monitor (or pg_read_all_stats) to see them all.");
    }

    /// <summary>What Stop-PuoQuery is about to signal: read first so -WhatIf and the prompt can name the query.</summary>
    public sealed record Backend(int Pid, string? User, string? Database, string? State, string? Query, DateTime? QueryStart);

    /// <summary>
    /// Finds the backend and refuses what must never be signalled: this module's own session and,
    /// unless <paramref name="allowNonClient"/>, server processes such as autovacuum or WAL senders.
    /// </summary>
    public static Task<Backend> GetBackendAsync(OperationContext ctx, int pid, bool allowNonClient) =>
        PostgresConnections.ReadAsync(ctx, connection => BackendAsync(connection, ctx, pid, allowNonClient));

    private static async Task<Backend> BackendAsync(NpgsqlConnection connection, OperationContext ctx, int pid, bool allowNonClient)
    {
        await using var command = connection.Command(
            "SELECT pid = pg_backend_pid(), backend_type, usename, datname, state, query, query_start FROM pg_stat_activity WHERE pid = @pid", ctx);
        command.Parameters.AddWithValue("pid", pid);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        var target = PostgresConnections.Endpoint(ctx).DisplayName;
        if (!await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Postgres.BackendNotFound",
                $"No backend with pid {pid} on {target}: it has already ended. List current ones with Get-PuoSlowQuery.", pid);
        if (reader.GetBoolean(0))
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Postgres.OwnSession",
                $"Pid {pid} is PuoOps's own session on {target}; it is never signalled.", pid);
        var backendType = NullableString(reader, 1);
        if (backendType != "client backend" && !allowNonClient)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Postgres.NotAClientBackend",
                $"Pid {pid} on {target} is a server process ({backendType}), not a client query. Use -Force to signal it anyway.", pid);
        return new Backend(pid, NullableString(reader, 2), NullableString(reader, 3), NullableString(reader, 4),
            NullableString(reader, 5), reader.IsDBNull(6) ? null : reader.GetDateTime(6));
    }

    /// <summary>
    /// pg_cancel_backend or pg_terminate_backend. When <paramref name="expectedQueryStart"/> is given, only
    /// signals if the backend still runs that same query, so a query that finished between the listing and
    /// the stop (or a reused pid) is left alone. Returns false when nothing was signalled. A terminated backend
    /// may have been one of the environment's pooled connections, so a termination clears the pool.
    /// </summary>
    public static async Task<bool> SignalAsync(OperationContext ctx, int pid, bool terminate, DateTime? expectedQueryStart)
    {
        bool signalled;
        await using (var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false))
        {
            var function = terminate ? "pg_terminate_backend" : "pg_cancel_backend";
            await using var command = connection.Command(
                $"SELECT {function}(pid) FROM pg_stat_activity WHERE pid = @pid AND pid <> pg_backend_pid() AND (@start::timestamptz IS NULL OR query_start = @start)", ctx);
            command.Parameters.AddWithValue("pid", pid);
            command.Parameters.Add(new NpgsqlParameter("start", NpgsqlDbType.TimestampTz) { Value = expectedQueryStart is { } s ? ToUtc(s) : DBNull.Value });
            signalled = await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false) is true;
        }
        if (signalled && terminate)
            await PostgresConnections.ClearPoolAsync(ctx).ConfigureAwait(false);
        return signalled;
    }

    private static DateTime ToUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
