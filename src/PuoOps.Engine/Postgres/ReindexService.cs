using System.Diagnostics;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>
/// The runbook's REINDEX INDEX CONCURRENTLY, with sizes before and after, a lock_timeout, and the cleanup
/// PostgreSQL leaves to the operator: a failed concurrent reindex keeps an invalid "_ccnew" (or "_ccold")
/// index that slows every write until someone drops it.
/// </summary>
public static class ReindexService
{
    /// <summary>How long the cleanup of a failed concurrent reindex may wait for locks: longer than the reindex, since leaving an invalid index is worse.</summary>
    private static readonly TimeSpan CleanupLockTimeout = TimeSpan.FromSeconds(60);

    private const string IndexSql = """
        SELECT i.oid, x.indrelid, pg_relation_size(i.oid)
        FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace JOIN pg_index x ON x.indexrelid = i.oid
        WHERE n.nspname = @schema AND i.relname = @index
        """;

    // What a failed REINDEX CONCURRENTLY leaves: an invalid index named <index>_ccnew[N] or _ccold[N] on the table or,
    // for a partitioned index (rebuilt one partition at a time, so it can fail part-way), on any of its partitions.
    private const string LeftoverSql = """
        SELECT i.oid, n.nspname, i.relname
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE (x.indrelid = @table OR x.indrelid IN (SELECT relid FROM pg_partition_tree(@table::regclass))) AND NOT x.indisvalid
          AND i.relname ~ '_cc(new|old)[0-9]*$' AND NOT (i.oid = ANY(@existing))
        """;

    public static async Task<ReindexResult> ReindexAsync(OperationContext ctx, IndexTarget index, bool concurrently, TimeSpan lockTimeout)
    {
        PostgresRelations.ValidateLockTimeout(lockTimeout);
        await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
        await PostgresRelations.SetLockTimeoutAsync(connection, ctx, lockTimeout).ConfigureAwait(false);
        var (tableOid, sizeBefore) = await ReadIndexAsync(connection, ctx, index).ConfigureAwait(false);
        var invalidBefore = concurrently ? await LeftoversAsync(connection, ctx, tableOid, []).ConfigureAwait(false) : [];
        var statement = $"REINDEX INDEX {(concurrently ? "CONCURRENTLY " : "")}{index.Quoted}";
        ctx.Log(statement);
        ctx.Report(new ProgressInfo("REINDEX", $"{index} ({IndexUsageService.FormatBytes(sizeBefore)})"));
        var watch = Stopwatch.StartNew();
        using var notices = ServerNotices.Watch(connection);
        try
        {
            await using var command = connection.Command(statement, ctx, unlimited: true);
            await command.ExecuteNonQueryAsync(ctx.Cancellation).ConfigureAwait(false);
            notices.ThrowIfSkipped(ctx, "REINDEX", index.ToString());
        }
        catch (Exception ex) when (concurrently)
        {
            var failure = ErrorTranslator.Translate(ex, ctx.Environment);
            var cleanup = await DropLeftoversAsync(ctx, tableOid, invalidBefore.Select(l => l.Oid).ToArray()).ConfigureAwait(false);
            throw new PuoException(failure.Kind, failure.ErrorId, $"REINDEX INDEX CONCURRENTLY {index} failed: {failure.Message} {cleanup}", index.ToString(), ex);
        }
        var duration = watch.Elapsed;
        var (_, sizeAfter) = await ReadIndexAsync(connection, ctx, index).ConfigureAwait(false);
        return new ReindexResult
        {
            Environment = ctx.Environment.Name, Schema = index.Schema, Table = index.Table, Index = index.Name,
            Concurrently = concurrently, SizeBytesBefore = sizeBefore, SizeBytesAfter = sizeAfter, Duration = duration,
        };
    }

    private static async Task<(uint Table, long Size)> ReadIndexAsync(NpgsqlConnection connection, OperationContext ctx, IndexTarget index)
    {
        await using var command = connection.Command(IndexSql, ctx);
        command.Parameters.AddWithValue("schema", index.Schema);
        command.Parameters.AddWithValue("index", index.Name);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        if (!await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            throw PostgresRelations.NotFound("index", index.Schema, index.Name, ctx, "Get-PuoIndexUsage");
        return (reader.GetFieldValue<uint>(1), reader.GetInt64(2));
    }

    private sealed record Leftover(uint Oid, string Schema, string Name);

    private static async Task<List<Leftover>> LeftoversAsync(NpgsqlConnection connection, OperationContext ctx, uint table, uint[] existing)
    {
        await using var command = connection.Command(LeftoverSql, ctx);
        command.Parameters.AddWithValue("table", NpgsqlTypes.NpgsqlDbType.Oid, table);
        command.Parameters.AddWithValue("existing", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid, existing);
        var found = new List<Leftover>();
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            found.Add(new Leftover(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2)));
        return found;
    }

    /// <summary>
    /// Drops the invalid indexes the failed reindex created. Runs even after Ctrl+C (its own bounded token),
    /// and says in the error what it did or what the operator still has to run.
    /// </summary>
    private static async Task<string> DropLeftoversAsync(OperationContext ctx, uint table, uint[] existing)
    {
        using var budget = new CancellationTokenSource(CleanupLockTimeout + TimeSpan.FromSeconds(ctx.TimeoutSeconds));
        var cleanupCtx = new OperationContext(ctx.Environment, ctx.Timeout, budget.Token, ctx.Progress, ctx.Verbose, ctx.Warning);
        List<Leftover> leftovers = [];
        try
        {
            await using var connection = await PostgresConnections.OpenAsync(cleanupCtx).ConfigureAwait(false);
            leftovers = await LeftoversAsync(connection, cleanupCtx, table, existing).ConfigureAwait(false);
            if (leftovers.Count == 0)
                return "It left no invalid index behind.";
            await PostgresRelations.SetLockTimeoutAsync(connection, cleanupCtx, CleanupLockTimeout).ConfigureAwait(false);
            foreach (var leftover in leftovers)
            {
                var drop = $"DROP INDEX CONCURRENTLY IF EXISTS {PostgresRelations.QuoteIdentifier(leftover.Schema)}.{PostgresRelations.QuoteIdentifier(leftover.Name)}";
                cleanupCtx.Log(drop);
                await using var command = connection.Command(drop, cleanupCtx, unlimited: true);
                await command.ExecuteNonQueryAsync(cleanupCtx.Cancellation).ConfigureAwait(false);
            }
            return $"The invalid index it left ({string.Join(", ", leftovers.Select(l => l.Name))}) was dropped.";
        }
        catch (Exception ex)
        {
            var names = leftovers.Count == 0 ? "<index>_ccnew" : string.Join(", ", leftovers.Select(l => $"{l.Schema}.{l.Name}"));
            return $"Dropping the invalid index it left ({names}) failed too ({ErrorTranslator.Translate(ex, ctx.Environment).Message}); " +
                   "drop it with DROP INDEX CONCURRENTLY once the blocking transaction ends (Get-PuoIndexUsage -Invalid lists it).";
        }
    }
}
