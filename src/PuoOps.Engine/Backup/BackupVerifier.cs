using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>What Test-PuoBackup was asked for.</summary>
public sealed class BackupTestOptions
{
    /// <summary>Also restore into a scratch database and compare it with the manifest.</summary>
    public bool Restore { get; init; }
    /// <summary>The scratch database to restore into, as <see cref="BackupVerifier.DescribeAsync"/> named it in the prompt; null: a new name.</summary>
    public string? ScratchDatabase { get; init; }
    /// <summary>A backup older than this is Critical.</summary>
    public TimeSpan? MaxAge { get; init; }
    public int Jobs { get; init; } = 1;
    public string? SanityQuery { get; init; }
    /// <summary>The folder of pg_restore and psql to use (-PgBinPath); null: PATH, then the distribution's folders.</summary>
    public string? PgBinPath { get; init; }
    /// <summary>How long pg_restore may run before it is stopped (-RestoreTimeout).</summary>
    public TimeSpan RestoreTimeout { get; init; } = BackupVerifier.DefaultRestoreTimeout;
    /// <summary>With <see cref="Restore"/>: restore even from a folder another user can write to.</summary>
    public bool Force { get; init; }
}

/// <summary>
/// Proves a backup: its checksums against the manifest, pg_restore --list (the runbook's integrity test)
/// and, on request, a real restore into a scratch database compared with the manifest's row counts and
/// alembic revision, plus a sanity query. Restore-PuoBackup verifies through the same code.
/// </summary>
public static class BackupVerifier
{
    /// <summary>What -RestoreTimeout is unless given: long enough for a large database, short of a job that never ends.</summary>
    public static readonly TimeSpan DefaultRestoreTimeout = TimeSpan.FromHours(6);

    /// <summary>Every index valid and ready: a restore that died while building indexes fails this.</summary>
    public const string DefaultSanityQuery = "SELECT NOT EXISTS (SELECT 1 FROM pg_index WHERE NOT indisvalid OR NOT indisready)";

    /// <summary>
    /// What Test-PuoBackup will do to <paramref name="backup"/>, for -WhatIf and the confirmation prompt: with a
    /// restore, the scratch database it creates and drops and the orphans of dead runs it drops first (reads
    /// only). Returns the scratch database's name, for <see cref="BackupTestOptions.ScratchDatabase"/>.
    /// </summary>
    public static async Task<(string? ScratchDatabase, string Description)> DescribeAsync(OperationContext ctx, DatabaseBackup backup, bool restore)
    {
        var record = backup.HasManifest ? "; the verdict is recorded in its manifest" : "";
        if (!restore)
            return (null, $"backup {backup.Path}: check its checksums and read it with pg_restore --list{record}");
        var scratch = ScratchName(backup);
        var orphans = await ScratchDatabases.DropOrphansAsync(ctx, dryRun: true).ConfigureAwait(false);
        return (scratch, $"backup {backup.Path}: check its checksums, create the database {scratch} on {PostgresConnections.Endpoint(ctx).Host}:{PostgresConnections.Endpoint(ctx).Port}, " +
                         $"restore into it beside the checksum, compare it with the manifest and drop it{record}"
                         + (orphans.Count == 0 ? "" : $"; first drops {string.Join(", ", orphans)}, scratch database(s) left by a run whose process died"));
    }

    private static string ScratchName(DatabaseBackup backup) =>
        ScratchDatabases.NewName(string.IsNullOrEmpty(backup.Database) ? "puoops" : backup.Database, "verify");

    public static Task<BackupTestResult> TestAsync(OperationContext ctx, string path, BackupTestOptions options) => TestAsync(ctx, path, options, null);

    /// <param name="stageHook">Tests only, with -Restore: called at the stages RestoreService names ("checksum", "restore", "verify").</param>
    internal static async Task<BackupTestResult> TestAsync(OperationContext ctx, string path, BackupTestOptions options, Func<string, CancellationToken, Task>? stageHook)
    {
        var watch = Stopwatch.StartNew();
        var backup = BackupStore.Read(path, ctx.Environment.Name);
        ArchiveCheck archive;
        RestoreCheck? restore = null;
        if (options.Restore)
        {
            // A trial restore runs pg_restore and the manifest's CREATE DATABASE as this user: only from a folder that is theirs.
            BackupTrust.RequireOwnFolder(backup, options.Force);
            await ScratchDatabases.DropOrphansAsync(ctx, dryRun: false).ConfigureAwait(false);
            var scratch = options.ScratchDatabase ?? ScratchName(backup);
            // Held until the scratch database is dropped: while it is, no other run takes it for an orphan.
            await using var hold = await ScratchDatabases.HoldAsync(ctx, scratch, options.PgBinPath).ConfigureAwait(false);
            try
            {
                (archive, restore) = await RestoreCheckedAsync(ctx, backup, scratch, options.Jobs, options.SanityQuery, null, options.PgBinPath, options.RestoreTimeout, stageHook).ConfigureAwait(false);
            }
            finally
            {
                await DatabaseAdmin.DropQuietlyAsync(ctx, scratch).ConfigureAwait(false);
            }
        }
        else
            archive = await CheckArchiveAsync(ctx, backup, options.PgBinPath).ConfigureAwait(false);

        var problems = new List<string>(archive.Problems);
        if (options.MaxAge is { } maxAge && backup.Age > maxAge)
            problems.Add($"The backup is {Units.Duration(backup.Age)} old, more than -MaxAge {Units.Duration(maxAge)}.");
        if (restore is not null)
            problems.AddRange(restore.Mismatches);

        var status = problems.Count > 0 ? Status.Critical : backup.HasManifest ? Status.OK : Status.Warning;
        var message = problems.Count > 0 ? string.Join(" ", problems)
            : !backup.HasManifest ? "Readable by pg_restore, but there is no manifest to check its checksum and contents against."
            : restore is not null ? $"Checksum matches, readable, restored and compared: {backup.Tables.Count} tables' row counts and the alembic revision match."
            : "Checksum matches the manifest and pg_restore --list reads it.";
        var level = restore is not null ? "Restore" : "Checksum";
        if (backup.HasManifest)
            BackupStore.TryRecordVerification(backup.Path, new BackupVerification { Time = DateTimeOffset.Now, Level = level, Status = status, Message = message });
        return new BackupTestResult
        {
            Environment = ctx.Environment.Name, Path = backup.Path, Database = backup.Database, Status = status,
            Time = backup.Time, Age = backup.Age, ChecksumMatches = archive.ChecksumMatches, Readable = archive.Readable,
            TocEntries = archive.TocEntries, Restored = restore?.Restored, RowCountsMatch = restore?.RowCountsMatch,
            AlembicVersionMatches = restore?.AlembicVersionMatches, SanityQueryPassed = restore?.SanityQueryPassed,
            Mismatches = problems, Duration = watch.Elapsed, Message = message,
        };
    }

    internal sealed class ArchiveCheck
    {
        public bool? ChecksumMatches { get; init; }
        public bool Readable { get; init; }
        public int TocEntries { get; init; }
        public List<string> Problems { get; } = [];

        public static ArchiveCheck From(ChecksumCheck checksum, TableOfContents toc)
        {
            var check = new ArchiveCheck { ChecksumMatches = checksum.Matches, Readable = toc.ExitCode == 0, TocEntries = toc.Entries.Count };
            check.Problems.AddRange(checksum.Problems);
            if (toc.ExitCode != 0)
                check.Problems.Add($"pg_restore --list cannot read the backup (exit {toc.ExitCode}): {PgToolLog.LastLines(toc.ErrorTail)}");
            return check;
        }
    }

    /// <summary>What pg_restore --list printed: its exit code, the end of its errors and the archive's entries (comments left out).</summary>
    internal sealed record TableOfContents(int ExitCode, string ErrorTail, IReadOnlyList<string> Entries);

    /// <summary>Checksum against the manifest and pg_restore --list, side by side. Touches no database.</summary>
    internal static async Task<ArchiveCheck> CheckArchiveAsync(OperationContext ctx, DatabaseBackup backup, string? pgBinPath)
    {
        ctx.Report(new ProgressInfo($"Checking {backup.Name}", "Checking the checksums and reading the table of contents (pg_restore --list)"));
        var watch = Stopwatch.StartNew();
        var hashTime = TimeSpan.Zero;
        var hashing = Task.Run(async () =>
        {
            var verdict = await BackupChecksums.VerifyAsync(backup, ctx.Cancellation).ConfigureAwait(false);
            hashTime = watch.Elapsed;
            return verdict;
        });
        var toc = await ListAsync(ctx, backup, pgBinPath).ConfigureAwait(false);
        var listTime = watch.Elapsed;
        var checksum = await hashing.ConfigureAwait(false);
        ctx.Log($"Timings: checksums of {backup.SizeBytes:N0} bytes {hashTime.TotalSeconds:0.00} s ({backup.Chunks?.Count ?? 1} chunk(s) on up to {Environment.ProcessorCount} cores), " +
                $"pg_restore --list {listTime.TotalSeconds:0.00} s, side by side.");
        ctx.Report(new ProgressInfo($"Checking {backup.Name}", "Done", 100, Completed: true));
        return ArchiveCheck.From(checksum, toc);
    }

    /// <summary>pg_restore --list of the backup: reads only its table of contents, a moment even for a large backup.</summary>
    private static async Task<TableOfContents> ListAsync(OperationContext ctx, DatabaseBackup backup, string? pgBinPath)
    {
        var pgRestore = PgTools.Locate("pg_restore", Major(backup.ServerVersion), pgBinPath);
        var entries = new List<string>();
        var result = await PgTools.RunAsync(pgRestore, ["--list", backup.Path], new Dictionary<string, string?>(), null,
            (line, isError) =>
            {
                if (!isError && line.Length > 0 && line[0] != ';')
                    lock (entries)
                        entries.Add(line);
            }, ctx.Cancellation).ConfigureAwait(false);
        return new TableOfContents(result.ExitCode, result.ErrorTail, entries);
    }

    /// <summary>
    /// Restores the backup into the new database <paramref name="database"/> and compares it with the manifest, with
    /// the checksums checked beside pg_restore rather than before it: the restore goes into a scratch database, so
    /// a damaged backup is still refused before anything the operator uses is touched. The table of contents is
    /// read first (pg_restore --list, a moment); an unreadable one means no restore. Damage found by the checksum
    /// stops whatever of the restore still runs (pg_restore is killed, the row counts end). The archive's verdict
    /// wins: with a problem in it the restore check is null, whatever pg_restore did, since a damaged backup is what
    /// makes pg_restore fail. Otherwise a failed pg_restore comes back as a check with Restored false. Nothing
    /// returns before the checksum and the restore have both ended; the caller drops or swaps the database.
    /// </summary>
    internal static async Task<(ArchiveCheck Archive, RestoreCheck? Restore)> RestoreCheckedAsync(OperationContext ctx, DatabaseBackup backup,
        string database, int jobs, string? sanityQuery, DatabaseProperties? like, string? pgBinPath, TimeSpan restoreTimeout,
        Func<string, CancellationToken, Task>? stageHook)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        var restoreCtx = new OperationContext(ctx.Environment, ctx.Timeout, stop.Token, ctx.Progress, ctx.Verbose);
        var watch = Stopwatch.StartNew();
        var hashTime = TimeSpan.Zero;
        var checking = Task.Run(async () =>
        {
            try
            {
                if (stageHook is not null)
                    await stageHook("checksum", ctx.Cancellation).ConfigureAwait(false);
                // One hashing thread: pg_restore's jobs and their server sessions need the cores, and the checksum only has to
                // be done by the swap. Even one thread hashes (SHA-256 instructions, SHA-512 else) far faster than pg_restore loads.
                var verdict = await BackupChecksums.VerifyAsync(backup, ctx.Cancellation, workers: 1).ConfigureAwait(false);
                hashTime = watch.Elapsed;
                if (verdict.Matches == false)
                {
                    ctx.Log($"The checksum of {backup.Path} does not match its manifest: stopping the restore into {database}.");
                    await stop.CancelAsync().ConfigureAwait(false);
                }
                return verdict;
            }
            catch
            {
                // The backup could not be read: nothing restored from it could be trusted.
                await stop.CancelAsync().ConfigureAwait(false);
                throw;
            }
        });

        TableOfContents? toc = null;
        RestoreCheck? restore = null;
        ExceptionDispatchInfo? failure = null;
        try
        {
            toc = await ListAsync(ctx, backup, pgBinPath).ConfigureAwait(false);
            if (toc.ExitCode == 0)
                restore = await RestoreIntoAsync(restoreCtx, backup, database, toc.Entries, jobs, sanityQuery, like, pgBinPath, restoreTimeout, stageHook).ConfigureAwait(false);
        }
        catch (PuoException ex) when (ex.ErrorId == "PuoOps.Backup.RestoreFailed")
        {
            restore = new RestoreCheck { Restored = false, Mismatches = [ex.Message] };
        }
        catch (Exception ex)
        {
            failure = ExceptionDispatchInfo.Capture(ex);
        }

        var waiting = Stopwatch.StartNew();
        ChecksumCheck checksum;
        try
        {
            checksum = await checking.ConfigureAwait(false);
        }
        catch (Exception) when (failure is not null && ctx.Cancellation.IsCancellationRequested)
        {
            failure.Throw();
            throw;
        }
        ctx.Log($"Timings: checksums of {backup.SizeBytes:N0} bytes {hashTime.TotalSeconds:0.00} s ({backup.Chunks?.Count ?? 1} chunk(s) on one thread) " +
                $"beside the restore, which then waited {waiting.Elapsed.TotalSeconds:0.00} s for them.");
        if (toc is null)
            failure!.Throw();
        var archive = ArchiveCheck.From(checksum, toc);
        if (archive.Problems.Count > 0)
            return (archive, null);
        failure?.Throw();
        return (archive, restore is { Restored: true } ? restore with { VerifyDuration = restore.VerifyDuration + waiting.Elapsed } : restore);
    }

    internal sealed record RestoreCheck
    {
        public bool Restored { get; init; }
        public bool? RowCountsMatch { get; init; }
        public bool? AlembicVersionMatches { get; init; }
        public bool? SanityQueryPassed { get; init; }
        public string? AlembicVersion { get; init; }
        public Dictionary<string, long> RowCounts { get; init; } = [];
        public List<string> Mismatches { get; init; } = [];
        public TimeSpan RestoreDuration { get; init; }
        public TimeSpan VerifyDuration { get; init; }
    }

    /// <summary>
    /// Creates <paramref name="database"/> (like <paramref name="like"/> if given), pg_restores the backup
    /// into it and compares it with the manifest. The caller drops or swaps the database afterwards,
    /// whatever happens here. pg_restore is stopped when it runs longer than <paramref name="restoreTimeout"/>.
    /// </summary>
    private static async Task<RestoreCheck> RestoreIntoAsync(OperationContext ctx, DatabaseBackup backup, string database, IReadOnlyList<string> tocEntries,
        int jobs, string? sanityQuery, DatabaseProperties? like, string? pgBinPath, TimeSpan restoreTimeout, Func<string, CancellationToken, Task>? stageHook)
    {
        var endpoint = PostgresConnections.Endpoint(ctx);
        var activity = $"Restoring {backup.Name} into {database}";
        int serverMajor;
        await using (var admin = await PostgresConnections.OpenDatabaseAsync(ctx, DatabaseAdmin.MaintenanceDatabase(database)).ConfigureAwait(false))
        {
            serverMajor = await DatabaseAdmin.ServerMajorAsync(admin, ctx).ConfigureAwait(false);
            await ScratchDatabases.CreateAsync(ctx, admin, database, $"restore of {backup.Name}", like).ConfigureAwait(false);
        }
        var pgRestore = PgTools.Locate("pg_restore", Math.Max(serverMajor, Major(backup.ServerVersion)), pgBinPath);
        var arguments = new List<string> { "--dbname", PgTools.DatabaseArgument(database), "--exit-on-error", "--verbose" };
        if (jobs > 1)
            arguments.AddRange(["--jobs", jobs.ToString(CultureInfo.InvariantCulture)]);
        arguments.Add(backup.Path);

        // With several jobs, pg_restore already builds indexes side by side; parallel workers inside each build
        // would only fight the other jobs for the cores. maintenance_work_mem stays the server's: 256MB was no
        // faster at 488 MB and 6 % slower at 2 GB on the restore bench (larger sort runs, worse cache use).
        var environment = PgTools.Environment(endpoint, ctx, "PuoOps pg_restore");
        if (jobs > 1)
            environment["PGOPTIONS"] = "-c max_parallel_maintenance_workers=0";
        ctx.Log($"Restoring {backup.Path} into {database} on {endpoint.Host}:{endpoint.Port} with {pgRestore}" +
                (jobs > 1 ? $" ({jobs} jobs, no parallel workers within a job)." : "."));
        var watch = Stopwatch.StartNew();
        var tablesDone = 0;
        await using var counter = new RestoredRowCounter(ctx, database, backup.Tables, tocEntries, jobs);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        limit.CancelAfter(restoreTimeout);
        var restoring = PgTools.RunAsync(pgRestore, arguments, environment, null, (line, _) =>
        {
            counter.Observe(line);
            if (!line.Contains("processing data for table", StringComparison.Ordinal))
                return;
            var done = Interlocked.Increment(ref tablesDone);
            ctx.Log(line);
            ctx.Report(new ProgressInfo(activity, $"{line.Replace("pg_restore: ", "", StringComparison.Ordinal)} ({watch.Elapsed:mm\\:ss})",
                backup.Tables.Count == 0 ? -1 : Math.Min(95, done * 95 / backup.Tables.Count)));
        }, limit.Token);
        if (stageHook is not null)
            await stageHook("restore", ctx.Cancellation).ConfigureAwait(false);
        ChildResult result;
        try
        {
            result = await restoring.ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!ctx.Cancellation.IsCancellationRequested)
        {
            throw new PuoException(ErrorKind.Timeout, "PuoOps.Backup.RestoreTimeout",
                $"pg_restore of {backup.Path} into {database} did not finish within -RestoreTimeout {Units.Duration(restoreTimeout)} and was stopped. Raise -RestoreTimeout for a database this large.",
                backup.Path, ex);
        }
        if (result.ExitCode != 0)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.RestoreFailed",
                $"pg_restore of {backup.Path} into {database} failed (exit {result.ExitCode}{(result.ExitCode > 128 ? $", killed by signal {result.ExitCode - 128}" : "")}): " +
                PgToolLog.LastLines(result.ErrorTail), backup.Path);
        var restoreDuration = watch.Elapsed;

        ctx.Report(new ProgressInfo(activity, "Comparing row counts and the alembic revision with the manifest", 96));
        watch.Restart();
        if (stageHook is not null)
            await stageHook("verify", ctx.Cancellation).ConfigureAwait(false);
        var mismatches = new List<string>();
        var counts = new Dictionary<string, long>();
        var counted = await counter.FinishAsync().ConfigureAwait(false);
        foreach (var table in backup.Tables)
        {
            if (counted[table] is not { } rows)
            {
                mismatches.Add($"Table {table} is missing from the restored database.");
                continue;
            }
            counts[table.ToString()] = rows;
            if (rows != table.Rows)
                mismatches.Add($"Table {table} has {rows:N0} rows restored, {table.Rows:N0} in the manifest.");
        }
        var rowCountsMatch = mismatches.Count == 0;

        await using var restored = await PostgresConnections.OpenDatabaseAsync(ctx, database).ConfigureAwait(false);

        var alembic = await DatabaseAdmin.AlembicVersionAsync(restored, ctx).ConfigureAwait(false);
        bool? alembicMatches = null;
        var alembicDumped = !backup.Partial || backup.Tables.Any(t => t.Name == "alembic_version");
        if (backup.HasManifest && alembicDumped)
        {
            alembicMatches = alembic == backup.AlembicVersion;
            if (alembicMatches == false)
                mismatches.Add($"The restored alembic revision is '{alembic ?? "(none)"}', the manifest says '{backup.AlembicVersion ?? "(none)"}'.");
        }

        var sanity = sanityQuery ?? DefaultSanityQuery;
        bool sanityPassed;
        try
        {
            var value = await ScalarAsync(restored, sanity, ctx).ConfigureAwait(false);
            sanityPassed = value is not null and not DBNull and not false;
            if (!sanityPassed)
                mismatches.Add($"The sanity query returned {(value is null or DBNull ? "nothing" : value)}: {sanity}");
        }
        catch (PostgresException ex)
        {
            sanityPassed = false;
            mismatches.Add($"The sanity query failed ({ex.MessageText}): {sanity}");
        }
        ctx.Report(new ProgressInfo(activity, "Done", 100, Completed: true));
        return new RestoreCheck
        {
            Restored = true, RowCountsMatch = backup.HasManifest ? rowCountsMatch : null, AlembicVersionMatches = alembicMatches,
            SanityQueryPassed = sanityPassed, AlembicVersion = alembic, RowCounts = counts, Mismatches = mismatches,
            RestoreDuration = restoreDuration, VerifyDuration = watch.Elapsed,
        };
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, OperationContext ctx, string? name = null)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        if (name is not null)
            command.Parameters.AddWithValue("name", name);
        return await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false);
    }

    /// <summary>The major version of "15.4 (Debian 15.4-1)"; 0 when unknown (any installed tool will do).</summary>
    internal static int Major(string? serverVersion) =>
        serverVersion is not null && int.TryParse(serverVersion.Split('.', ' ')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major) ? major : 0;
}
