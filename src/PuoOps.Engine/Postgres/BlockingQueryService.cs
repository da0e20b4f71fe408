using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>Who blocks whom, from pg_blocking_pids: every blocked backend and every backend it waits on, as trees.</summary>
public static class BlockingQueryService
{
    private const string Sql = """
        WITH waits AS (
          SELECT pid, pg_blocking_pids(pid) AS blocked_by
          FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock')
        SELECT a.pid, coalesce(w.blocked_by, '{}'), a.state, a.wait_event_type, a.wait_event, a.usename, a.datname, a.application_name,
               a.query_start, a.xact_start, a.query,
               CASE WHEN cardinality(w.blocked_by) > 0 THEN now() - a.query_start ELSE now() - coalesce(a.xact_start, a.query_start) END
        FROM pg_stat_activity a LEFT JOIN waits w ON w.pid = a.pid
        WHERE cardinality(w.blocked_by) > 0 OR a.pid IN (SELECT unnest(blocked_by) FROM waits)
        """;

    private sealed record Row(int Pid, int[] BlockedBy, Activity Data);

    private sealed record Activity(string State, string? WaitEvent, string? User, string? Database, string? Application,
        DateTime? QueryStart, DateTime? TransactionStart, string Query, TimeSpan Duration);

    /// <summary>Root blockers each followed by the backends waiting on them, depth first.</summary>
    public static Task<IReadOnlyList<BlockingQuery>> GetAsync(OperationContext ctx) =>
        PostgresConnections.ReadAsync(ctx, connection => ReadAsync(connection, ctx));

    private static async Task<IReadOnlyList<BlockingQuery>> ReadAsync(NpgsqlConnection connection, OperationContext ctx)
    {
        await PostgresActivityService.WarnIfOthersHiddenAsync(connection, ctx).ConfigureAwait(false);
        await using var command = connection.Command(Sql, ctx);
        var rows = new Dictionary<int, Row>();
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            {
                var pid = reader.GetInt32(0);
                rows[pid] = new Row(pid, reader.GetFieldValue<int[]>(1), new Activity(
                    State: reader.IsDBNull(2) ? "" : reader.GetString(2),
                    WaitEvent: reader.IsDBNull(4) ? null : $"{reader.GetString(3)}:{reader.GetString(4)}",
                    User: NullableString(reader, 5), Database: NullableString(reader, 6), Application: NullableString(reader, 7),
                    QueryStart: reader.IsDBNull(8) ? null : reader.GetDateTime(8),
                    TransactionStart: reader.IsDBNull(9) ? null : reader.GetDateTime(9),
                    Query: NullableString(reader, 10) ?? "",
                    Duration: reader.IsDBNull(11) ? TimeSpan.Zero : reader.GetTimeSpan(11)));
            }
        }
        return Order(ctx, rows);
    }

    private static List<BlockingQuery> Order(OperationContext ctx, Dictionary<int, Row> rows)
    {
        var waiters = rows.Values.SelectMany(r => r.BlockedBy.Select(b => (Blocker: b, Waiter: r.Pid)))
            .ToLookup(p => p.Blocker, p => p.Waiter);
        var result = new List<BlockingQuery>();
        var written = new HashSet<int>();
        // Roots wait on nobody; members of a pure cycle (a deadlock about to be broken) have no root, so they start a tree too.
        var starts = rows.Values.Where(r => r.BlockedBy.Length == 0).OrderByDescending(r => r.Data.Duration)
            .Concat(rows.Values.OrderBy(r => r.Pid));
        foreach (var start in starts)
            Visit(start.Pid);
        return result;

        void Visit(int pid)
        {
            if (!rows.TryGetValue(pid, out var row) || !written.Add(pid))
                return;
            var chain = ChainTo(pid);
            result.Add(new BlockingQuery
            {
                Environment = ctx.Environment.Name, Pid = pid, BlockedBy = row.BlockedBy,
                Blocking = waiters[pid].Distinct().Order().ToArray(),
                RootBlocker = chain[0], Chain = chain,
                Duration = row.Data.Duration, State = row.Data.State, WaitEvent = row.Data.WaitEvent,
                User = row.Data.User, Database = row.Data.Database, Application = row.Data.Application,
                QueryStart = row.Data.QueryStart, TransactionStart = row.Data.TransactionStart, Query = row.Data.Query,
            });
            foreach (var waiter in waiters[pid].Distinct().Order())
                Visit(waiter);
        }

        // Follows the first blocker up to a backend that waits on nobody (or until a cycle closes).
        int[] ChainTo(int pid)
        {
            var chain = new List<int> { pid };
            var current = pid;
            while (rows.TryGetValue(current, out var row) && row.BlockedBy.Length > 0 && !chain.Contains(row.BlockedBy[0]))
            {
                current = row.BlockedBy[0];
                chain.Add(current);
            }
            chain.Reverse();
            return chain.ToArray();
        }
    }

    private static string? NullableString(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
