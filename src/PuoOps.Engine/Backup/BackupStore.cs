using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PuoOps.Engine.Backup;

/// <summary>What the sidecar JSON next to each backup holds (&lt;backup&gt;.json).</summary>
internal sealed class BackupManifest
{
    /// <summary>
    /// 2 added <see cref="Chunks"/> (SHA-256 each); 3 hashes chunks with SHA-512 where that is faster
    /// (<see cref="BackupChecksums.ChunkAlgorithm"/>) and adds <see cref="Properties"/>. A version 1
    /// manifest is checked by <see cref="Sha256"/> alone.
    /// </summary>
    public int ManifestVersion { get; set; } = 3;
    public string Database { get; set; } = "";
    public string Server { get; set; } = "";
    public string ServerVersion { get; set; } = "";
    public string? AlembicVersion { get; set; }
    public BackupFormat Format { get; set; }
    public bool Partial { get; set; }
    public long DatabaseSizeBytes { get; set; }
    public long SizeBytes { get; set; }
    public string Sha256 { get; set; } = "";
    public List<BackupChunk>? Chunks { get; set; }
    /// <summary>What pg_dump leaves out (owner, locale, privileges, settings): a restore where the database is gone takes them from here.</summary>
    public DatabaseProperties? Properties { get; set; }
    public DateTimeOffset StartTime { get; set; }
    public DateTimeOffset EndTime { get; set; }
    public string PgDump { get; set; } = "";
    public List<BackupTable> Tables { get; set; } = [];
    public BackupVerification? LastVerification { get; set; }
}

/// <summary>
/// Backups on disk: naming, the sidecar manifest, checksums, listing and removal. A backup is a
/// <c>*.dump</c> file (custom format) or a <c>*.dir</c> folder (directory format); names starting with
/// a dot are unfinished and never listed.
/// </summary>
public static class BackupStore
{
    public const string ManifestSuffix = ".json";
    private const string PartialSuffix = ".partial";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    internal static string Extension(BackupFormat format) => format == BackupFormat.Directory ? ".dir" : ".dump";

    /// <summary>&lt;database&gt;[_&lt;table&gt;]_yyyyMMddTHHmmssZ.dump, with a counter when that name is taken.</summary>
    internal static string NewName(string directory, string database, IReadOnlyList<BackupTable>? tables, BackupFormat format, DateTimeOffset time)
    {
        var scope = tables is { Count: > 0 } ? "_" + string.Join("_", tables.Select(t => t.Name)) : "";
        var stem = Sanitize(database + scope);
        if (stem.Length > 100)
            stem = stem[..100];
        stem += "_" + time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var name = stem + Extension(format);
        for (var n = 2; Exists(Path.Combine(directory, name)) || Exists(TempPath(Path.Combine(directory, name))); n++)
            name = $"{stem}-{n}{Extension(format)}";
        return name;
    }

    /// <summary>Where a backup is written until it is complete: a hidden sibling, renamed at the end.</summary>
    internal static string TempPath(string finalPath) =>
        Path.Combine(Path.GetDirectoryName(finalPath)!, "." + Path.GetFileName(finalPath) + PartialSuffix);

    internal static string ManifestPath(string backupPath) => backupPath.TrimEnd('/') + ManifestSuffix;

    internal static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    /// <summary>
    /// The backups in <paramref name="directory"/>, newest first. A backup whose manifest cannot be used (not JSON,
    /// another tool's file, or values Backup-PuoDatabase never writes) is left out and handed to <paramref name="skipped"/>
    /// with the reason, so one bad file never hides the rest.
    /// </summary>
    public static IEnumerable<DatabaseBackup> List(string directory, Action<PuoException>? skipped)
    {
        if (!Directory.Exists(directory))
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.DirectoryNotFound",
                $"The backup directory '{directory}' does not exist. Check -Path.", directory);
        var backups = new List<DatabaseBackup>();
        foreach (var path in Directory.EnumerateFileSystemEntries(directory))
        {
            if (Path.GetFileName(path).StartsWith('.')
                || !((path.EndsWith(".dump", StringComparison.Ordinal) && File.Exists(path))
                     || (path.EndsWith(".dir", StringComparison.Ordinal) && File.Exists(Path.Combine(path, "toc.dat")))))
                continue;
            try
            {
                backups.Add(Read(path, null));
            }
            catch (PuoException ex) when (ex.ErrorId is ManifestUnreadable or ManifestInvalid)
            {
                skipped?.Invoke(new PuoException(ex.Kind, ex.ErrorId, $"Skipped {Path.GetFileName(path)}: {ex.Message}", path, ex));
            }
        }
        return backups.OrderByDescending(b => b.Time);
    }

    /// <summary>A backup and its manifest; a backup without one still shows, with what the file system knows.</summary>
    public static DatabaseBackup Read(string path, string? environment)
    {
        path = Path.GetFullPath(path).TrimEnd('/');
        var isDirectory = Directory.Exists(path);
        if (!isDirectory && !File.Exists(path))
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.NotFound",
                $"Backup '{path}' does not exist. List the backups with Get-PuoBackup -Path <directory>.", path);
        var manifestPath = ManifestPath(path);
        var manifest = ReadManifest(manifestPath);
        var name = Path.GetFileName(path);
        return new DatabaseBackup
        {
            Environment = environment,
            Path = path,
            Name = name,
            ManifestPath = manifestPath,
            HasManifest = manifest is not null,
            Database = manifest?.Database ?? "",
            Format = manifest?.Format ?? (isDirectory ? BackupFormat.Directory : BackupFormat.Custom),
            Time = manifest?.EndTime ?? (isDirectory ? Directory.GetLastWriteTimeUtc(path) : File.GetLastWriteTimeUtc(path)),
            SizeBytes = Size(path),
            Sha256 = manifest?.Sha256,
            Chunks = manifest?.Chunks,
            Properties = manifest?.Properties,
            ServerVersion = manifest?.ServerVersion,
            AlembicVersion = manifest?.AlembicVersion,
            StartTime = manifest?.StartTime,
            EndTime = manifest?.EndTime,
            DatabaseSizeBytes = manifest?.DatabaseSizeBytes,
            Partial = manifest?.Partial ?? false,
            Tables = manifest?.Tables ?? [],
            LastVerification = manifest?.LastVerification,
        };
    }

    private const string ManifestUnreadable = "PuoOps.Backup.ManifestUnreadable";
    private const string ManifestInvalid = "PuoOps.Backup.ManifestInvalid";

    /// <summary>
    /// The manifest next to a backup, or null when there is none. What is on disk is input, not trusted: a file that is
    /// not JSON, or JSON that is not a PuoOps manifest (another tool's file of the same name), is ManifestUnreadable.
    /// </summary>
    internal static BackupManifest? ReadManifest(string manifestPath)
    {
        if (!File.Exists(manifestPath))
            return null;
        BackupManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<BackupManifest>(File.ReadAllText(manifestPath), Json);
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            throw Unreadable(manifestPath, ex is JsonException ? $"it is not valid JSON ({ex.Message})" : $"it cannot be read ({ex.Message})", ex);
        }
        var problem = manifest switch
        {
            null => "it holds no manifest (null)",
            { ManifestVersion: < 1 or > 3 } => $"it has no known ManifestVersion (found {manifest.ManifestVersion})",
            { Database.Length: 0 } => "it names no Database",
            { EndTime.Year: 1 } => "it has no EndTime",
            { SizeBytes: < 0 } => "its SizeBytes is negative",
            _ when manifest.Sha256.Length != 64 || !manifest.Sha256.All(Uri.IsHexDigit) => "its Sha256 is not a SHA-256 hex digest",
            _ => null,
        };
        if (problem is not null)
            throw Unreadable(manifestPath, "it is not a PuoOps backup manifest: " + problem, null);
        BackupTrust.Validate(manifest!, manifestPath);
        return manifest;
    }

    private static PuoException Unreadable(string manifestPath, string reason, Exception? inner) =>
        new(ErrorKind.InvalidOperation, ManifestUnreadable,
            $"The manifest '{manifestPath}' cannot be used: {reason}. Re-create the backup, or move the file away to treat the backup as unverified.",
            manifestPath, inner);

    /// <summary>
    /// Writes the manifest owner-only through an exclusively created temp file of an unpredictable name (never
    /// through a planted symlink), so a reader never sees half of one.
    /// </summary>
    internal static void WriteManifest(string manifestPath, BackupManifest manifest) =>
        AtomicFile.Write(manifestPath, JsonSerializer.SerializeToUtf8Bytes(manifest, Json));

    /// <summary>Keeps the verdict of Test-PuoBackup in the manifest; a read-only backup folder just keeps none.</summary>
    internal static bool TryRecordVerification(string backupPath, BackupVerification verification)
    {
        var manifestPath = ManifestPath(backupPath);
        try
        {
            var manifest = ReadManifest(manifestPath);
            if (manifest is null)
                return false;
            manifest.LastVerification = verification;
            WriteManifest(manifestPath, manifest);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PuoException)
        {
            return false;
        }
    }

    internal static long Size(string path) =>
        Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)
            : new FileInfo(path).Length;

    /// <summary>Removes a backup and its manifest.</summary>
    public static void Remove(DatabaseBackup backup)
    {
        DeletePath(backup.Path);
        if (File.Exists(backup.ManifestPath))
            File.Delete(backup.ManifestPath);
    }

    internal static void DeletePath(string path)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
        else if (File.Exists(path))
            File.Delete(path);
    }

    /// <summary>
    /// The backups of the same database and scope (full, or the same -Table set) beyond the newest
    /// <paramref name="keep"/>, oldest last: what -Keep removes.
    /// </summary>
    public static IReadOnlyList<DatabaseBackup> Expired(string directory, DatabaseBackup newest, int keep, Action<PuoException>? skipped) =>
        List(directory, skipped)
            .Where(b => b.HasManifest && b.Database == newest.Database && Scope(b) == Scope(newest))
            .Skip(keep)
            .ToList();

    /// <summary>The newest complete backup (with a manifest, not partial) in a directory: what -Latest restores.</summary>
    public static DatabaseBackup Latest(string directory, string? database, Action<PuoException>? skipped) =>
        List(directory, skipped).FirstOrDefault(b => b.HasManifest && !b.Partial && (database is null || b.Database == database))
        ?? throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.NoBackup",
            $"No complete backup with a manifest{(database is null ? "" : " of " + database)} in '{directory}'. List them with Get-PuoBackup.", directory);

    private static string Scope(DatabaseBackup backup) =>
        backup.Partial ? string.Join(",", backup.Tables.Select(t => t.ToString()).Order(StringComparer.Ordinal)) : "*";

    private static string Sanitize(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
            builder.Append(char.IsLetterOrDigit(c) || c is '_' or '-' ? c : '_');
        return builder.ToString();
    }
}
