using System.Diagnostics;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>What Restore-PuoBackup was asked for.</summary>
public sealed class RestoreOptions
{
    /// <summary>The database to replace; defaults to the one the backup was taken from.</summary>
    public string? Database { get; init; }
    public int Jobs { get; init; } = 1;
    public bool DropPrevious { get; init; }
    public string? SanityQuery { get; init; }
    /// <summary>The folder of pg_restore and psql to use (-PgBinPath); null: PATH, then the distribution's folders.</summary>
    public string? PgBinPath { get; init; }
    /// <summary>How long pg_restore may run before it is stopped (-RestoreTimeout).</summary>
    public TimeSpan RestoreTimeout { get; init; } = BackupVerifier.DefaultRestoreTimeout;
    /// <summary>Restore even from a folder another user can write to (see <see cref="BackupTrust.RequireOwnFolder"/>).</summary>
    public bool Force { get; init; }
}

/// <summary>
/// Restores a backup without ever putting the live database at risk: the archive is restored into a new
/// database while its checksums are checked beside pg_restore, verified against the manifest, and only when
/// both agree swapped in by renaming both databases in one transaction. Until that commit the original is
/// untouched; whatever fails or is interrupted before it (a damaged backup included), the half-restored
/// database is dropped.
/// </summary>
public static class RestoreService
{
    private const int SwapAttempts = 5;

    /// <summary>
    /// Describes the restore for -WhatIf and the confirmation prompt, including the orphaned scratch
    /// databases of dead runs it would drop first (reads only).
    /// </summary>
    public static async Task<string> DescribeAsync(OperationContext ctx, DatabaseBackup backup, RestoreOptions options)
    {
        Check(backup, options);
        var target = options.Database ?? backup.Database;
        var orphans = await ScratchDatabases.DropOrphansAsync(ctx, dryRun: true).ConfigureAwait(false);
        return $"database {target} from {backup.Path} (taken {backup.Time:u}, alembic {backup.AlembicVersion ?? "none"}); the current database is "
               + (options.DropPrevious ? "dropped after the swap" : $"kept as {target}_before_restore_<timestamp>")
               + (orphans.Count == 0 ? "" : $"; first drops {string.Join(", ", orphans)}, scratch database(s) left by a run whose process died");
    }

    public static Task<RestoreResult> RestoreAsync(OperationContext ctx, DatabaseBackup backup, RestoreOptions options) =>
        RestoreAsync(ctx, backup, options, null);

    /// <param name="stageHook">Tests only: called at "checksum" (before the checksums are computed, beside the restore), "restore"
    /// (pg_restore running), "verify" (pg_restore done) and "swap" (inside the swap transaction).</param>
    internal static async Task<RestoreResult> RestoreAsync(OperationContext ctx, DatabaseBackup backup, RestoreOptions options,
        Func<string, CancellationToken, Task>? stageHook)
    {
        var total = Stopwatch.StartNew();
        Check(backup, options);
        var target = options.Database ?? backup.Database;

        await ScratchDatabases.DropOrphansAsync(ctx, dryRun: false).ConfigureAwait(false);
        var (like, likeSource) = await PropertiesAsync(ctx, backup, target).ConfigureAwait(false);

        var stamp = DatabaseAdmin.Timestamp(DateTimeOffset.Now);
        var scratch = ScratchDatabases.NewName(target, "restore");
        // Held until the scratch database is dropped or swapped in: while it is, no other run takes it for an orphan.
        await using var hold = await ScratchDatabases.HoldAsync(ctx, scratch, options.PgBinPath).ConfigureAwait(false);
        // Within PostgreSQL's 63 bytes, with room for a "_n" counter.
        var previous = $"{(target.Length > 28 ? target[..28] : target)}_before_restore_{stamp}";
        var swapped = false;
        try
        {
            // The checksum runs beside pg_restore: the live database is touched only by the swap, after both.
            var (archive, check) = await BackupVerifier.RestoreCheckedAsync(ctx, backup, scratch, options.Jobs, options.SanityQuery, like, options.PgBinPath, options.RestoreTimeout, stageHook).ConfigureAwait(false);
            if (check is null)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.Corrupt",
                    $"Backup {backup.Path} failed its integrity check; nothing was changed. {string.Join(" ", archive.Problems)} Restore from another backup (Get-PuoBackup).", backup.Path);
            if (!check.Restored)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.RestoreFailed", $"{string.Join(" ", check.Mismatches).TrimEnd()} {target} was left as it was and the half-restored copy is dropped; " +
                    "check the server's log and free space, then run the restore again.", backup.Path);
            if (check.Mismatches.Count > 0)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.VerifyFailed",
                    $"The restored copy of {backup.Path} does not match its manifest, so {target} was left as it was: {string.Join(" ", check.Mismatches)}", backup.Path);

            var swapWatch = Stopwatch.StartNew();
            (var existed, previous) = await SwapAsync(ctx, target, scratch, previous, like, stageHook).ConfigureAwait(false);
            swapped = true;
            var swapDuration = swapWatch.Elapsed;
            // The swap terminated the environment's pooled connections to the old database: none may be handed out again.
            if (PostgresConnections.Endpoint(ctx).Database == target)
                await PostgresConnections.ClearPoolAsync(ctx).ConfigureAwait(false);

            var dropped = false;
            if (existed && options.DropPrevious)
            {
                await DatabaseAdmin.DropQuietlyAsync(ctx, previous).ConfigureAwait(false);
                dropped = true;
            }
            var message = (existed
                ? dropped ? $"Restored and verified; the previous {target} was dropped." : $"Restored and verified; the previous database is kept as {previous}."
                : $"Restored and verified; {target} did not exist before.")
                + (like is null ? " It belongs to the user who ran the restore and has the server's default locale and privileges: the manifest predates recording them."
                    : $" It has the owner, locale, privileges and settings of {likeSource}.");
            ctx.Log(message);
            return new RestoreResult
            {
                Environment = ctx.Environment.Name, Database = target, BackupPath = backup.Path,
                PreviousDatabase = existed && !dropped ? previous : null, PreviousDropped = dropped, Verified = true,
                RowCounts = check.RowCounts, AlembicVersion = check.AlembicVersion, RestoreDuration = check.RestoreDuration,
                VerifyDuration = check.VerifyDuration, SwapDuration = swapDuration, Duration = total.Elapsed, Message = message,
            };
        }
        finally
        {
            if (!swapped)
                await DatabaseAdmin.DropQuietlyAsync(ctx, scratch).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What is refused before any server is asked, so -WhatIf says what the real run would do: a file that is not
    /// a pg_dump archive, a backup without a manifest or of some tables only, a database name libpq could read
    /// as a connection string, and a backup another user could have planted (unless <see cref="RestoreOptions.Force"/>).
    /// </summary>
    public static void Check(DatabaseBackup backup, RestoreOptions options)
    {
        BackupTrust.RequireArchive(backup);
        if (!backup.HasManifest)
            throw new PuoException(ErrorKind.InvalidData, "PuoOps.Backup.NoManifest",
                $"Backup {backup.Path} has no manifest ({backup.ManifestPath}), so a restore could not be verified; nothing was changed. Restore it by hand with pg_restore into a new database.", backup.Path);
        if (backup.Partial)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Backup.PartialBackup",
                $"Backup {backup.Path} holds only {string.Join(", ", backup.Tables)}; swapping it in would lose every other table, so nothing was changed. " +
                "Restore its tables with pg_restore --table into a database of your choice.", backup.Path);
        if (options.Database is not null)
            BackupTrust.RequireDatabaseName(options.Database, "-Database");
        if (options.Jobs < 1)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Backup.Jobs", $"-Jobs must be at least 1 (got {options.Jobs}).", options.Jobs);
        BackupTrust.RequireOwnFolder(backup, options.Force);
    }

    /// <summary>
    /// What the restored database must have that pg_dump leaves out (owner, locale, privileges, settings):
    /// those of the database it replaces or, when that is gone, of the backup's source as the manifest
    /// recorded them (what pg_dump --create would recreate); null for a manifest from before that.
    /// Every role they name must exist, checked before anything is touched.
    /// </summary>
    private static async Task<(DatabaseProperties? Like, string Source)> PropertiesAsync(OperationContext ctx, DatabaseBackup backup, string target)
    {
        await using var admin = await PostgresConnections.OpenDatabaseAsync(ctx, DatabaseAdmin.MaintenanceDatabase(target)).ConfigureAwait(false);
        var current = await DatabaseProperties.ReadAsync(admin, target, ctx).ConfigureAwait(false);
        var (like, source) = current is not null ? (current, "the database it replaced") : (backup.Properties, $"{backup.Database} when it was backed up");
        if (like is null)
            return (null, "");
        var missing = await DatabaseProperties.MissingRolesAsync(admin, like.Roles(), ctx).ConfigureAwait(false);
        if (missing.Count > 0)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.MissingRoles",
                $"The restored {target} needs the role(s) {string.Join(", ", missing)}, named by the owner, privileges or settings of {source}, and this server has none of that name; " +
                "nothing was changed. Create the roles first (pg_dumpall --globals-only on the old server writes them).", target);
        return (like, source);
    }

    /// <summary>
    /// Renames target → previous and scratch → target in one transaction, after terminating the
    /// target's connections (a rename needs the database idle). The same transaction gives the restored
    /// database the connection limit, comment, privileges and settings of <paramref name="like"/> (or just
    /// clears its scratch marker). A client that reconnects in between makes the rename fail; then it is
    /// retried a few times. Returns whether target existed, and the name the previous database got (a
    /// counter is added when two restores share a second).
    /// </summary>
    private static async Task<(bool Existed, string Previous)> SwapAsync(OperationContext ctx, string target, string scratch, string previous,
        DatabaseProperties? like, Func<string, CancellationToken, Task>? stageHook)
    {
        await using var admin = await PostgresConnections.OpenDatabaseAsync(ctx, DatabaseAdmin.MaintenanceDatabase(target)).ConfigureAwait(false);
        var existed = await DatabaseAdmin.DatabaseExistsAsync(admin, target, ctx).ConfigureAwait(false);
        var stem = previous;
        for (var n = 2; await DatabaseAdmin.DatabaseExistsAsync(admin, previous, ctx).ConfigureAwait(false); n++)
            previous = $"{stem}_{n}";
        for (var attempt = 1; ; attempt++)
        {
            if (existed)
            {
                await using var terminate = admin.Command(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE datname = @name AND pid <> pg_backend_pid()", ctx);
                terminate.Parameters.AddWithValue("name", target);
                var terminated = await terminate.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false);
                ctx.Log($"Terminated {terminated} connection(s) to {target} for the swap.");
            }
            await using var swap = await admin.BeginTransactionAsync(ctx.Cancellation).ConfigureAwait(false);
            try
            {
                foreach (var statement in like?.ApplyStatements(scratch) ?? [$"COMMENT ON DATABASE {SqlQuote.Identifier(scratch)} IS NULL"])
                    await DatabaseAdmin.ExecuteAsync(admin, statement, ctx.Cancellation).ConfigureAwait(false);
                if (existed)
                    await DatabaseAdmin.ExecuteAsync(admin, $"ALTER DATABASE {SqlQuote.Identifier(target)} RENAME TO {SqlQuote.Identifier(previous)}", ctx.Cancellation).ConfigureAwait(false);
                if (stageHook is not null)
                    await stageHook("swap", ctx.Cancellation).ConfigureAwait(false);
                await DatabaseAdmin.ExecuteAsync(admin, $"ALTER DATABASE {SqlQuote.Identifier(scratch)} RENAME TO {SqlQuote.Identifier(target)}", ctx.Cancellation).ConfigureAwait(false);
                // The point of no return: past this commit the restored database is live.
                ctx.Cancellation.ThrowIfCancellationRequested();
                await swap.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                ctx.Log(existed ? $"Swapped: {target} is the restored database, the old one is {previous}." : $"Renamed {scratch} to {target}.");
                return (existed, previous);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ObjectInUse && attempt < SwapAttempts)
            {
                await swap.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                ctx.Log($"A client reconnected to {target} during the swap ({ex.MessageText}); retrying ({attempt}/{SwapAttempts}).");
            }
        }
    }
}
