using System.Diagnostics;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>What Invoke-PuoVacuum asks of VACUUM.</summary>
public sealed record VacuumOptions(bool Full, bool Analyze, bool SkipLocked, int? Parallel, TimeSpan LockTimeout)
{
    public void Validate()
    {
        PostgresRelations.ValidateLockTimeout(LockTimeout);
        if (Parallel is < 0 or > 1024)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Postgres.Parallel", $"-Parallel must be between 0 and 1024 (got {Parallel}).", Parallel);
        if (Full && Parallel is not null)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Postgres.Parallel",
                "VACUUM FULL rewrites the table and cannot use parallel workers: drop -Parallel or -Full.", Parallel);
    }

    /// <summary>The statement head, e.g. VACUUM (FULL, ANALYZE, SKIP_LOCKED).</summary>
    public string Statement
    {
        get
        {
            var options = new List<string>();
            if (Full) options.Add("FULL");
            if (Analyze) options.Add("ANALYZE");
            if (SkipLocked) options.Add("SKIP_LOCKED");
            if (Parallel is { } workers) options.Add("PARALLEL " + workers);
            return options.Count == 0 ? "VACUUM" : $"VACUUM ({string.Join(", ", options)})";
        }
    }
}

/// <summary>
/// VACUUM and ANALYZE one table at a time, so each table gets its own result (duration, dead tuples before and
/// after) and its own lock_timeout, and progress can be read from pg_stat_progress_* while it runs.
/// </summary>
public static class VacuumService
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>How long reading a table's size may wait for its lock: the size is nice to have, never worth waiting for.</summary>
    private static readonly TimeSpan SizeLockTimeout = TimeSpan.FromMilliseconds(200);

    // The statistics functions take no lock; pg_total_relation_size needs the table's ACCESS SHARE lock, so it
    // is asked separately and given up (-1) when another session holds the table exclusively.
    private const string StatsSql = """
        SELECT pg_stat_get_dead_tuples(c.oid), pg_stat_get_live_tuples(c.oid), c.oid
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = @schema AND c.relname = @table
        """;

    // VACUUM FULL reports through the CLUSTER progress view; plain VACUUM and ANALYZE have their own.
    private const string VacuumProgressSql = "SELECT phase, heap_blks_total, heap_blks_vacuumed + heap_blks_scanned FROM pg_stat_progress_vacuum WHERE pid = @pid";
    private const string FullProgressSql = "SELECT phase, heap_blks_total, heap_blks_scanned FROM pg_stat_progress_cluster WHERE pid = @pid";
    private const string AnalyzeProgressSql = "SELECT phase, sample_blks_total, sample_blks_scanned FROM pg_stat_progress_analyze WHERE pid = @pid";

    /// <summary>VACUUM of one table. <paramref name="position"/> and <paramref name="count"/> place it in the overall progress.</summary>
    public static Task<MaintenanceResult> VacuumAsync(OperationContext ctx, TableTarget table, VacuumOptions options, int position = 0, int count = 1)
    {
        options.Validate();
        var progressSql = options.Full ? FullProgressSql : VacuumProgressSql;
        return RunAsync(ctx, table, options.Statement, progressSql, options.LockTimeout, position, count);
    }

    public static Task<MaintenanceResult> AnalyzeAsync(OperationContext ctx, TableTarget table, bool skipLocked, TimeSpan lockTimeout, int position = 0, int count = 1)
    {
        PostgresRelations.ValidateLockTimeout(lockTimeout);
        return RunAsync(ctx, table, skipLocked ? "ANALYZE (SKIP_LOCKED)" : "ANALYZE", AnalyzeProgressSql, lockTimeout, position, count);
    }

    private static async Task<MaintenanceResult> RunAsync(OperationContext ctx, TableTarget table, string statement, string progressSql,
        TimeSpan lockTimeout, int position, int count)
    {
        await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
        var before = await ReadStatsAsync(connection, ctx, table).ConfigureAwait(false);
        await PostgresRelations.SetLockTimeoutAsync(connection, ctx, lockTimeout).ConfigureAwait(false);
        using var notices = ServerNotices.Watch(connection);
        ctx.Log($"{statement} {table.Quoted}");
        var watch = Stopwatch.StartNew();
        using var stopProgress = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        var progress = ReportProgressAsync(ctx, connection.ProcessID, statement, table, progressSql, position, count, stopProgress.Token);
        try
        {
            await using var command = connection.Command($"{statement} {table.Quoted}", ctx, unlimited: true);
            await command.ExecuteNonQueryAsync(ctx.Cancellation).ConfigureAwait(false);
        }
        finally
        {
            stopProgress.Cancel();
            await progress.ConfigureAwait(false);
        }
        var duration = watch.Elapsed;
        // A table the role may not vacuum is skipped with only a WARNING: that is a PermissionDenied error, not a result.
        notices.ThrowIfSkipped(ctx, statement, table.ToString());
        var skipped = notices.LockSkipped;
        var after = await ReadStatsAsync(connection, ctx, table).ConfigureAwait(false);
        var removed = before.Dead - after.Dead;
        return new MaintenanceResult
        {
            Environment = ctx.Environment.Name, Schema = table.Schema, Table = table.Name, Operation = statement,
            Skipped = skipped, Duration = duration,
            DeadTuplesBefore = before.Dead, DeadTuplesAfter = after.Dead, LiveTuples = after.Live,
            SizeBytesBefore = before.Bytes, SizeBytesAfter = after.Bytes,
            Message = skipped ? "Skipped: another session held a conflicting lock (SKIP_LOCKED)."
                : statement.StartsWith("ANALYZE", StringComparison.Ordinal) ? "Statistics updated."
                : after.Dead > 0 ? $"Removed {Math.Max(0, removed):N0} dead tuples; {after.Dead:N0} remain because an older transaction may still see them (Get-PuoSlowQuery -IncludeIdleInTransaction)."
                : $"Removed {Math.Max(0, removed):N0} dead tuples.",
        };
    }

    private static async Task<(long Dead, long Live, long Bytes)> ReadStatsAsync(NpgsqlConnection connection, OperationContext ctx, TableTarget table)
    {
        long dead, live;
        uint oid;
        await using (var command = connection.Command(StatsSql, ctx))
        {
            command.Parameters.AddWithValue("schema", table.Schema);
            command.Parameters.AddWithValue("table", table.Name);
            await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
            if (!await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                throw PostgresRelations.NotFound("table", table.Schema, table.Name, ctx, "Get-PuoTableSize");
            (dead, live, oid) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetFieldValue<uint>(2));
        }
        await PostgresRelations.SetLockTimeoutAsync(connection, ctx, SizeLockTimeout).ConfigureAwait(false);
        try
        {
            await using var size = connection.Command("SELECT pg_total_relation_size(@oid)", ctx);
            size.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, oid);
            return (dead, live, (long)(await size.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false))!);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            return (dead, live, -1);
        }
    }

    /// <summary>
    /// Polls the progress view for the maintenance backend from a second connection until stopped. Only opens
    /// that connection once the table has taken longer than one interval, so small tables cost nothing.
    /// </summary>
    private static async Task ReportProgressAsync(OperationContext ctx, int pid, string statement, TableTarget table, string sql,
        int position, int count, CancellationToken stop)
    {
        var activity = count > 1 ? $"{statement}: table {position + 1} of {count}" : statement;
        ctx.Report(new ProgressInfo(activity, table.ToString(), 100 * position / Math.Max(1, count)));
        try
        {
            await Task.Delay(ProgressInterval, stop).ConfigureAwait(false);
            await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
            await using var command = connection.Command(sql, ctx);
            command.Parameters.AddWithValue("pid", pid);
            while (!stop.IsCancellationRequested)
            {
                await using (var reader = await command.ExecuteReaderAsync(stop).ConfigureAwait(false))
                {
                    if (await reader.ReadAsync(stop).ConfigureAwait(false))
                    {
                        var (phase, total, done) = (reader.GetString(0), reader.IsDBNull(1) ? 0 : reader.GetInt64(1), reader.IsDBNull(2) ? 0 : reader.GetInt64(2));
                        var fraction = total > 0 ? Math.Min(1.0, (double)done / total) : 0;
                        ctx.Report(new ProgressInfo(activity, $"{table}: {phase}" + (total > 0 ? $" ({done:N0} of {total:N0} blocks)" : ""),
                            (int)(100 * (position + fraction) / Math.Max(1, count))));
                    }
                }
                await Task.Delay(ProgressInterval, stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (stop.IsCancellationRequested || ex is NpgsqlException or PuoException)
        {
            // Progress is best effort: the statement's own outcome is what the caller reports.
        }
    }
}
