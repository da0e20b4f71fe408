using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>What Backup-PuoDatabase was asked for.</summary>
public sealed class BackupOptions
{
    public string Directory { get; init; } = ".";
    public BackupFormat Format { get; init; } = BackupFormat.Custom;
    /// <summary>Parallel pg_dump workers; directory format only.</summary>
    public int Jobs { get; init; } = 1;
    /// <summary>
    /// Only the tables these names or wildcard patterns select (see <see cref="BackupTableSelection"/>),
    /// like the runbook's pg_dump -t audit_logs.
    /// </summary>
    public IReadOnlyList<string> Tables { get; init; } = [];
    /// <summary>The folder of pg_dump to use (-PgBinPath); null: PATH, then the distribution's folders.</summary>
    public string? PgBinPath { get; init; }
    /// <summary>Write even into an existing folder another user owns or can write to (see <see cref="BackupTrust.RequireOwnBackupFolder"/>).</summary>
    public bool Force { get; init; }
}

/// <summary>
/// pg_dump of the environment's database into a timestamped backup with a sidecar manifest. The dump
/// and the manifest's row counts come from one exported snapshot, so they agree even while the
/// application writes. Nothing appears under the final name until the backup is complete.
/// </summary>
public static class BackupService
{
    public static async Task<DatabaseBackup> BackupAsync(OperationContext ctx, BackupOptions options)
    {
        if (options.Jobs < 1 || (options.Jobs > 1 && options.Format != BackupFormat.Directory))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Backup.Jobs",
                $"-Jobs {options.Jobs} needs -Format Directory (pg_dump dumps in parallel only into a directory).", options.Jobs);
        var endpoint = PostgresConnections.Endpoint(ctx);
        var tablePatterns = BackupTableSelection.Parse(options.Tables);
        var directory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.Directory));
        PrepareDirectory(directory, options.Force);

        var start = DateTimeOffset.Now;
        var phase = Stopwatch.StartNew();
        await using var connection = await PostgresConnections.OpenDatabaseAsync(ctx, endpoint.Database).ConfigureAwait(false);
        await using var snapshot = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ctx.Cancellation).ConfigureAwait(false);
        string snapshotId, serverVersion;
        long databaseSize;
        await using (var command = connection.Command(
            "SELECT pg_export_snapshot(), current_setting('server_version'), pg_database_size(current_database())", ctx))
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false);
            (snapshotId, serverVersion, databaseSize) = (reader.GetString(0), reader.GetString(1), reader.GetInt64(2));
        }
        var serverMajor = await DatabaseAdmin.ServerMajorAsync(connection, ctx).ConfigureAwait(false);
        var pgDump = PgTools.Locate("pg_dump", serverMajor, options.PgBinPath);
        var all = await DatabaseAdmin.TablesAsync(connection, ctx).ConfigureAwait(false);
        var selected = tablePatterns.Count == 0 ? all : BackupTableSelection.Select(all, tablePatterns, endpoint.Database, ctx);
        await RequireSelectAsync(connection, selected.Select(t => t.Table).ToList(), endpoint.DisplayName, ctx).ConfigureAwait(false);
        var alembic = await DatabaseAdmin.AlembicVersionAsync(connection, ctx).ConfigureAwait(false);
        var properties = await DatabaseProperties.ReadAsync(connection, endpoint.Database, ctx).ConfigureAwait(false);

        var name = BackupStore.NewName(directory, endpoint.Database, options.Tables.Count == 0 ? null : selected.Select(t => t.Table).ToList(), options.Format, start);
        var finalPath = Path.Combine(directory, name);
        var tempPath = BackupStore.TempPath(finalPath);
        var manifestPath = BackupStore.ManifestPath(finalPath);
        var arguments = new List<string>
        {
            "--dbname", PgTools.DatabaseArgument(endpoint.Database), "--format", options.Format == BackupFormat.Directory ? "directory" : "custom",
            "--snapshot", snapshotId, "--verbose",
        };
        // A custom-format dump comes through stdout and is hashed on its way into the file (one pass
        // instead of a second read for the manifest); a directory-format dump writes its own files.
        BackupDigest? digest = null;
        Action<Stream>? readOutput = null;
        if (options.Format == BackupFormat.Directory)
            arguments.AddRange(["--file", tempPath]);
        else
            readOutput = output => digest = BackupChecksums.CopyAndHash(output, tempPath);
        if (options.Jobs > 1)
            arguments.AddRange(["--jobs", options.Jobs.ToString(CultureInfo.InvariantCulture)]);
        if (options.Tables.Count > 0)
        {
            // Each resolved table as a quoted identifier: pg_dump reads everything between double quotes
            // literally (a doubled quote is one quote), so no name can act as a pg_dump pattern or inject.
            arguments.Add("--strict-names");
            foreach (var (table, _) in selected)
                arguments.AddRange(["--table", SqlQuote.Identifier(table.Schema, table.Name)]);
        }

        var catalogTime = phase.Elapsed;
        ctx.Log($"Dumping {endpoint.DisplayName} with {pgDump} to {finalPath}.");
        var progress = new DumpProgress(ctx, endpoint.Database, selected);
        var completed = false;
        // pg_dump gets its own cancellation, so that whatever ends this method early (Ctrl+C, a failed row
        // count) also ends pg_dump before the partial file is removed and the method returns.
        using var stopDump = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        Task<ChildResult>? dump = null;
        try
        {
            phase.Restart();
            dump = PgTools.RunAsync(pgDump, arguments, PgTools.Environment(endpoint, ctx, "PuoOps pg_dump"), null, progress.OnLine, stopDump.Token, readOutput);
            // Count rows in the dump's snapshot, so they are exactly what pg_dump dumps, while it runs: pg_dump is
            // single-threaded (compression), so counts on the other core, one table at a time, are done within
            // its first seconds instead of adding their time after it (about 0.5 s per GB on 2 cores).
            var counting = CountRowsAsync(connection, snapshot, selected, stopDump.Token);
            List<BackupTable> tables = [];
            var countTime = TimeSpan.Zero;
            if (await Task.WhenAny(dump, counting).ConfigureAwait(false) == dump && !(dump.IsCompletedSuccessfully && dump.Result.ExitCode == 0))
            {
                // pg_dump failed first (a full disk, a lost connection): that is what to report, not a cancelled count.
                stopDump.Cancel();
                await counting.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }
            else
            {
                tables = await counting.ConfigureAwait(false); // if a count fails, the finally below ends pg_dump
                countTime = phase.Elapsed;
            }
            var result = await dump.ConfigureAwait(false);
            if (result.ExitCode != 0)
                throw BackupFailures.DumpFailed(result, endpoint.DisplayName, directory);
            var dumpTime = phase.Elapsed;
            await snapshot.CommitAsync(ctx.Cancellation).ConfigureAwait(false);

            phase.Restart();
            if (digest is null)
            {
                progress.Report("Computing the checksums", 99);
                digest = await BackupChecksums.ComputeAsync(tempPath, ctx.Cancellation).ConfigureAwait(false);
            }
            else
                BackupChecksums.FlushToDisk(tempPath);
            if (options.Format == BackupFormat.Directory)
                RestrictToOwner(tempPath);
            var checksumTime = phase.Elapsed;
            phase.Restart();
            var end = DateTimeOffset.Now;
            var manifest = new BackupManifest
            {
                Database = endpoint.Database, Server = $"{endpoint.Host}:{endpoint.Port}", ServerVersion = serverVersion,
                AlembicVersion = alembic, Format = options.Format, Partial = options.Tables.Count > 0,
                DatabaseSizeBytes = databaseSize, SizeBytes = BackupStore.Size(tempPath), Sha256 = digest.Sha256, Chunks = digest.Chunks,
                Properties = properties,
                StartTime = start, EndTime = end, PgDump = pgDump, Tables = tables,
            };
            BackupStore.WriteManifest(manifestPath, manifest);
            Move(tempPath, finalPath);
            completed = true;
            progress.Complete();
            ctx.Log($"Backup complete: {finalPath} ({manifest.SizeBytes:N0} bytes, SHA-256 {digest.Sha256}).");
            ctx.Log($"Timings: catalog {catalogTime.TotalSeconds:0.00} s, pg_dump {dumpTime.TotalSeconds:0.00} s (its row counts done after {countTime.TotalSeconds:0.00} s), " +
                    (readOutput is null ? $"checksum {checksumTime.TotalSeconds:0.00} s" : $"checksum during the dump, fsync {checksumTime.TotalSeconds:0.00} s") +
                    $", manifest and rename {phase.Elapsed.TotalSeconds:0.00} s.");
            return BackupStore.Read(finalPath, ctx.Environment.Name);
        }
        catch (IOException ex) when (BackupFailures.IsDiskFull(ex))
        {
            throw BackupFailures.DiskFull(directory, ex);
        }
        finally
        {
            if (dump is { IsCompleted: false })
            {
                stopDump.Cancel();
                await dump.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false); // RunAsync kills and reaps it
            }
            if (!completed)
            {
                // Ctrl+C, a failed dump or a full disk: leave nothing that looks like a backup.
                TryDelete(tempPath);
                if (!BackupStore.Exists(finalPath))
                    TryDelete(manifestPath);
            }
        }
    }

    /// <summary>Each table's row count in the transaction holding the dump's snapshot, one table at a time on one core.</summary>
    private static async Task<List<BackupTable>> CountRowsAsync(NpgsqlConnection connection, NpgsqlTransaction snapshot,
        List<(BackupTable Table, long Bytes)> selected, CancellationToken cancellation)
    {
        await using (var serial = new NpgsqlCommand("SET LOCAL max_parallel_workers_per_gather = 0", connection, snapshot))
            await serial.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
        var tables = new List<BackupTable>();
        foreach (var (table, _) in selected)
            tables.Add(new BackupTable { Schema = table.Schema, Name = table.Name, Rows = await DatabaseAdmin.CountAsync(connection, table, cancellation).ConfigureAwait(false) });
        return tables;
    }

    /// <summary>
    /// Creates the directory (and any missing parent) owner-only, 0700, and proves it is writable before pg_dump
    /// runs for minutes. An existing directory keeps its mode, but one another user owns or can write to is refused
    /// unless <paramref name="force"/>: the same rule restore applies, checked before anything is written.
    /// </summary>
    private static void PrepareDirectory(string directory, bool force)
    {
        try
        {
            AtomicFile.CreateOwnerOnlyDirectory(directory);
            BackupTrust.RequireOwnBackupFolder(directory, force);
            BackupFailures.ProbeWrite(directory);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Backup.DirectoryNotWritable",
                $"Cannot write to the backup directory '{directory}': {ex.Message} Choose another -Path or fix its permissions.", directory, ex);
        }
        catch (IOException ex) when (BackupFailures.IsDiskFull(ex))
        {
            throw BackupFailures.DiskFull(directory, ex);
        }
        catch (IOException ex)
        {
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.DirectoryNotWritable",
                $"Cannot write to the backup directory '{directory}': {ex.Message}", directory, ex);
        }
    }

    /// <summary>
    /// pg_dump, the row counts and the manifest read every table dumped (and alembic_version): a role without SELECT on
    /// one would fail part-way. Say so before anything is written, naming the privilege, the role and the tables.
    /// </summary>
    private static async Task RequireSelectAsync(NpgsqlConnection connection, List<BackupTable> tables, string target, OperationContext ctx)
    {
        await using var command = connection.Command("""
            SELECT current_user, array(
              SELECT format('%I.%I', s, n) FROM unnest(@schemas, @names) AS t(s, n) WHERE NOT has_table_privilege(format('%I.%I', s, n), 'SELECT')
              UNION SELECT 'alembic_version' WHERE to_regclass('alembic_version') IS NOT NULL AND NOT has_table_privilege('alembic_version', 'SELECT')
              ORDER BY 1)
            """, ctx);
        command.Parameters.AddWithValue("schemas", tables.Select(t => t.Schema).ToArray());
        command.Parameters.AddWithValue("names", tables.Select(t => t.Name).ToArray());
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false);
        var (role, unreadable) = (reader.GetString(0), reader.GetFieldValue<string[]>(1));
        if (unreadable.Length > 0)
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Backup.PermissionDenied",
                $"A backup of {target} needs SELECT on every table it dumps; role {role} lacks it on {string.Join(", ", unreadable)}. " +
                $"Grant it (GRANT SELECT ... TO {role}, or the pg_read_all_data role), or connect as the owner. Nothing was written.", target);
    }

    /// <summary>
    /// pg_dump creates a directory-format backup's folder 0700, but its files with the process umask (often 0644):
    /// make them owner-only before the backup gets its final name.
    /// </summary>
    private static void RestrictToOwner(string folder)
    {
        if (OperatingSystem.IsWindows())
            return;
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var file in System.IO.Directory.EnumerateFiles(folder))
            File.SetUnixFileMode(file, AtomicFile.OwnerOnly);
    }

    private static void Move(string from, string to)
    {
        if (System.IO.Directory.Exists(from))
            System.IO.Directory.Move(from, to);
        else
            File.Move(from, to);
    }

    private static void TryDelete(string path)
    {
        try
        {
            BackupStore.DeletePath(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a hidden .partial name is never listed as a backup.
        }
    }
}
