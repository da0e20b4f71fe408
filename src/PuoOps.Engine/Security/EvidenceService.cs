using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using Npgsql;
using PuoOps.Engine.Backup;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Security;

/// <summary>What Save-PuoIncidentEvidence was asked for: log files or folders, table name patterns besides audit_logs, where to write.</summary>
public sealed record EvidenceOptions(IReadOnlyList<string> LogPaths, IReadOnlyList<string> Tables, string Destination, string? PgBinPath = null);

/// <summary>The evidence saved, the parts that failed alone (a table that could not be dumped), and warnings.</summary>
public sealed record EvidenceResult(IncidentEvidence Evidence, IReadOnlyList<PuoException> Errors, IReadOnlyList<string> Warnings);

/// <summary>One log file to archive, and its name inside the archive.</summary>
public sealed record LogFile(string Path, string Name, long SizeBytes);

/// <summary>
/// The runbook's "Preserve evidence" (<c>tar -czf incident_&lt;time&gt;.tar.gz logs/</c> and <c>pg_dump -t audit_logs</c>)
/// done so it proves itself: a new owner-only folder (0700, created exclusively) holding a .tar.gz of the logs (with
/// .NET's tar and gzip; each file taken up to its size when opened, with a SHA256SUMS of exactly the archived bytes
/// inside), one pg_dump per table from one snapshot (audit_logs.dump, ...), and SHA256SUMS of the archive and dumps
/// beside them. Files are created exclusively owner-only and made read-only when complete. Ctrl+C or a failed archive
/// removes the folder; a table that cannot be dumped is reported and the rest is kept.
/// </summary>
public static class EvidenceService
{
    public const string AuditTable = "audit_logs";
    private const UnixFileMode ReadOnly = UnixFileMode.UserRead;

    /// <summary>The regular files under each path (a folder recursively, symbolic links skipped), named as in the archive.</summary>
    public static IReadOnlyList<LogFile> FindLogFiles(IReadOnlyList<string> paths)
    {
        var files = new List<LogFile>();
        var roots = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths.Select(p => Path.GetFullPath(p)))
        {
            var root = Path.GetFileName(path.TrimEnd('/'));
            for (var n = 2; !roots.Add(root); n++)
                root = $"{Path.GetFileName(path.TrimEnd('/'))}-{n}";
            if (File.Exists(path))
                files.Add(new LogFile(path, root, new FileInfo(path).Length));
            else if (Directory.Exists(path))
            {
                var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = false };
                files.AddRange(new DirectoryInfo(path).EnumerateFiles("*", options).OrderBy(f => f.FullName, StringComparer.Ordinal)
                    .Select(f => new LogFile(f.FullName, root + "/" + Path.GetRelativePath(path, f.FullName).Replace('\\', '/'), f.Length)));
            }
            else
                throw new PuoException(ErrorKind.NotFound, "PuoOps.Security.LogPathNotFound", $"The log path {path} does not exist. Give the folder of the logs with -LogPath.", path);
        }
        return files;
    }

    public static async Task<EvidenceResult> SaveAsync(OperationContext ctx, EvidenceOptions options)
    {
        var watch = Stopwatch.StartNew();
        var collectedAt = DateTimeOffset.Now;
        var logs = FindLogFiles(options.LogPaths);
        try
        {
            Directory.CreateDirectory(options.Destination);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PuoException(ex is UnauthorizedAccessException ? ErrorKind.PermissionDenied : ErrorKind.InvalidArgument,
                "PuoOps.Security.DestinationUnusable",
                $"Cannot use {options.Destination} as the evidence destination: {ex.Message} Give -Destination a folder you can write to (it is created if missing).",
                options.Destination, ex);
        }
        var name = $"incident_{collectedAt.UtcDateTime.ToString("yyyyMMdd'_'HHmmss'Z'", CultureInfo.InvariantCulture)}";
        var folder = Path.Combine(Path.GetFullPath(options.Destination), name);
        try
        {
            AtomicFile.CreateDirectoryExclusive(folder);
        }
        catch (IOException ex)
        {
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Security.EvidenceFolderExists",
                $"Cannot create the evidence folder {folder}: {ex.Message} Evidence never goes into a folder that already exists; try again in a second.", folder, ex);
        }
        var complete = false;
        try
        {
            var warnings = new List<string>();
            var errors = new List<PuoException>();
            var archivePath = Path.Combine(folder, name + ".tar.gz");
            var archived = await ArchiveAsync(ctx, logs, archivePath, warnings, errors).ConfigureAwait(false);
            var archive = await Sha256Sums.HashAsync(archivePath, Path.GetFileName(archivePath), ctx.Cancellation).ConfigureAwait(false);

            List<EvidenceFile> dumps = [];
            List<string> tables = [];
            (DateTimeOffset? From, DateTimeOffset? Until) auditRange = (null, null);
            try
            {
                (dumps, tables, auditRange) = await DumpAsync(ctx, options.Tables, options.PgBinPath, folder, errors).ConfigureAwait(false);
            }
            catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
            {
                // No database (not configured, down, refused): the logs are still evidence worth keeping.
                var failure = ErrorTranslator.Translate(ex, ctx.Environment);
                errors.Add(new PuoException(failure.Kind, failure.ErrorId, $"No table was dumped: {failure.Message} The logs were saved.", failure.Target, ex));
            }

            var manifest = Path.Combine(folder, Sha256Sums.FileName);
            await WriteNewAsync(manifest, Encoding.UTF8.GetBytes(Sha256Sums.Render(dumps.Prepend(archive))), ctx.Cancellation).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
                foreach (var file in dumps.Select(d => d.Name).Append(archive.Name).Append(Sha256Sums.FileName))
                    File.SetUnixFileMode(Path.Combine(folder, file), ReadOnly);

            var times = logs.Select(l => (DateTimeOffset?)File.GetLastWriteTimeUtc(l.Path)).Append(auditRange.From).Append(auditRange.Until).OfType<DateTimeOffset>().ToList();
            complete = true;
            ctx.Report(new ProgressInfo("Saving incident evidence", "Done", 100, Completed: true));
            return new EvidenceResult(new IncidentEvidence
            {
                Environment = ctx.Environment.Name, Path = folder, Archive = archivePath, Manifest = manifest,
                ArchiveSizeBytes = archive.SizeBytes, ArchiveSha256 = archive.Sha256, LogFiles = archived, Dumps = dumps, Tables = tables,
                From = times.Count == 0 ? null : times.Min(), Until = times.Count == 0 ? null : times.Max(),
                CollectedAt = collectedAt, Duration = watch.Elapsed,
            }, errors, warnings);
        }
        finally
        {
            if (!complete)
                Directory.Delete(folder, recursive: true); // Ctrl+C or a failed archive: nothing that looks like complete evidence
        }
    }

    /// <summary>
    /// The .tar.gz of the logs and, last in it, their SHA256SUMS. Each entry's size is its file's size when opened;
    /// the hash is of the bytes copied into the entry.
    /// </summary>
    private static async Task<List<EvidenceFile>> ArchiveAsync(OperationContext ctx, IReadOnlyList<LogFile> logs, string path, List<string> warnings,
        List<PuoException> errors)
    {
        var archived = new List<EvidenceFile>();
        var total = Math.Max(1, logs.Sum(l => l.SizeBytes));
        long done = 0;
        await using (var file = AtomicFile.CreateExclusive(path))
        {
            await using (var gzip = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true))
            await using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
            {
                foreach (var log in logs)
                {
                    ctx.Report(new ProgressInfo("Saving incident evidence", $"Archiving {log.Name}", (int)(done * 90 / total)));
                    done += log.SizeBytes;
                    SnapshotStream snapshot;
                    try
                    {
                        snapshot = OpenSnapshot(log.Path);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        // Nothing of it is in the archive yet: leave it out, say so, and keep the rest.
                        var failure = ErrorTranslator.Translate(ex, ctx.Environment);
                        errors.Add(new PuoException(failure.Kind, "PuoOps.Security.LogNotArchived",
                            $"{log.Path} could not be read, so it is not in the evidence: {ex.Message}", log.Path, ex));
                        continue;
                    }
                    await using var _ = snapshot;
                    var entry = new PaxTarEntry(TarEntryType.RegularFile, log.Name)
                    {
                        DataStream = snapshot,
                        ModificationTime = File.GetLastWriteTimeUtc(log.Path),
                        Mode = OperatingSystem.IsWindows() ? AtomicFile.OwnerOnly : File.GetUnixFileMode(log.Path),
                    };
                    await tar.WriteEntryAsync(entry, ctx.Cancellation).ConfigureAwait(false);
                    if (snapshot.Truncated)
                        warnings.Add($"{log.Path} shrank while it was archived (a log rotation truncated it?); its last bytes were archived as zeros, and the manifest hashes them as archived.");
                    archived.Add(new EvidenceFile { Name = log.Name, SizeBytes = snapshot.Length, Sha256 = snapshot.Sha256() });
                }
                var sums = Encoding.UTF8.GetBytes(Sha256Sums.Render(archived));
                var manifest = new PaxTarEntry(TarEntryType.RegularFile, Sha256Sums.FileName)
                {
                    DataStream = new MemoryStream(sums), ModificationTime = DateTimeOffset.UtcNow, Mode = ReadOnly,
                };
                await tar.WriteEntryAsync(manifest, ctx.Cancellation).ConfigureAwait(false);
            }
            await file.FlushAsync(ctx.Cancellation).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }
        ctx.Log($"Archived {archived.Count} log files ({archived.Sum(a => a.SizeBytes):N0} bytes) into {path}.");
        return archived;
    }

    private static SnapshotStream OpenSnapshot(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return new SnapshotStream(stream, stream.Length);
    }

    /// <summary>
    /// pg_dump (custom format) of audit_logs and of every table the patterns match, each into its own file, all from
    /// one exported snapshot so they agree with each other. A table that fails is an error of its own.
    /// </summary>
    private static async Task<(List<EvidenceFile> Dumps, List<string> Tables, (DateTimeOffset? From, DateTimeOffset? Until) AuditRange)> DumpAsync(
        OperationContext ctx, IReadOnlyList<string> patterns, string? pgBinPath, string folder, List<PuoException> errors)
    {
        var endpoint = PostgresConnections.Endpoint(ctx);
        await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
        await using var snapshot = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ctx.Cancellation).ConfigureAwait(false);
        string snapshotId;
        int serverMajor;
        await using (var command = connection.Command("SELECT pg_export_snapshot(), current_setting('server_version_num')::int / 10000", ctx))
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false);
            (snapshotId, serverMajor) = (reader.GetString(0), reader.GetInt32(1));
        }
        var tables = await SelectTablesAsync(ctx, connection, patterns.Prepend(AuditTable).ToList(), errors).ConfigureAwait(false);
        var auditRange = tables.Any(t => t.Name == AuditTable && t.Visible) ? await AuditRangeAsync(ctx, connection).ConfigureAwait(false) : (null, null);
        var pgDump = PgTools.Locate("pg_dump", serverMajor, pgBinPath);
        var dumps = new List<EvidenceFile>();
        foreach (var table in tables)
        {
            var fileName = (table.Visible ? table.Name : $"{table.Schema}.{table.Name}").Replace('/', '_') + ".dump";
            var path = Path.Combine(folder, fileName);
            ctx.Report(new ProgressInfo("Saving incident evidence", $"pg_dump of {table.Schema}.{table.Name}", 90 + dumps.Count * 10 / tables.Count));
            try
            {
                await using (var file = AtomicFile.CreateExclusive(path))
                {
                    var result = await PgTools.RunAsync(pgDump,
                        ["--format", "custom", "--snapshot", snapshotId, "--table", SqlQuote.Identifier(table.Schema, table.Name), "--dbname", PgTools.DatabaseArgument(endpoint.Database)],
                        PgTools.Environment(endpoint, ctx, "PuoOps evidence"), null, null, ctx.Cancellation, output => output.CopyTo(file)).ConfigureAwait(false);
                    if (result.ExitCode != 0)
                        throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Security.DumpFailed",
                            $"pg_dump of {table.Schema}.{table.Name} failed (exit {result.ExitCode}): {result.ErrorTail.Trim()}", table.Name);
                    file.Flush(flushToDisk: true);
                }
                dumps.Add(await Sha256Sums.HashAsync(path, fileName, ctx.Cancellation).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is PuoException or IOException && !ctx.Cancellation.IsCancellationRequested)
            {
                File.Delete(path);
                errors.Add(ErrorTranslator.Translate(ex, ctx.Environment));
            }
        }
        await snapshot.CommitAsync(ctx.Cancellation).ConfigureAwait(false);
        ctx.Log($"Dumped {string.Join(", ", dumps.Select(d => d.Name))} from snapshot {snapshotId} of {endpoint.DisplayName}.");
        return (dumps, tables.Select(t => $"{t.Schema}.{t.Name}").ToList(), auditRange);
    }

    private sealed record Table(string Schema, string Name, bool Visible);

    /// <summary>
    /// The user tables each name or wildcard pattern matches (a name without a schema among those on the search_path,
    /// as pg_dump -t reads it). A name that matches nothing is NotFound; a wildcard that matches nothing adds nothing.
    /// </summary>
    private static async Task<List<Table>> SelectTablesAsync(OperationContext ctx, NpgsqlConnection connection, List<string> patterns, List<PuoException> errors)
    {
        var all = new List<Table>();
        await using (var command = connection.Command("""
            SELECT n.nspname, c.relname, pg_table_is_visible(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
            ORDER BY 1, 2
            """, ctx))
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                all.Add(new Table(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)));
        var selected = new List<Table>();
        foreach (var text in patterns)
        {
            var (schema, name) = NamePattern.ParseQualified(text);
            var matches = all.Where(t => name.IsMatch(t.Name) && (schema is null ? t.Visible : schema.IsMatch(t.Schema))).ToList();
            if (matches.Count == 0 && !name.HasWildcards && schema?.HasWildcards != true)
                errors.Add(new PuoException(ErrorKind.NotFound, "PuoOps.Security.TableNotFound",
                    $"No table {text} in database {PostgresConnections.Endpoint(ctx).Database}, so it was not dumped. List the tables with Get-PuoTableSize.", text));
            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }
        return selected;
    }

    private static async Task<(DateTimeOffset?, DateTimeOffset?)> AuditRangeAsync(OperationContext ctx, NpgsqlConnection connection)
    {
        await using var command = connection.Command($"SELECT min(created_at), max(created_at) FROM {AuditTable}", ctx);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false);
        return (reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
    }

    private static async Task WriteNewAsync(string path, byte[] content, CancellationToken cancellation)
    {
        await using var file = AtomicFile.CreateExclusive(path);
        await file.WriteAsync(content, cancellation).ConfigureAwait(false);
        file.Flush(flushToDisk: true);
    }
}
