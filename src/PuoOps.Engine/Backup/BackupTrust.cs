using System.Text;

namespace PuoOps.Engine.Backup;

/// <summary>
/// What a backup on disk must be before PuoOps acts on it. A backup folder is input: whoever can write to it
/// can plant a dump, or a manifest whose values reach pg_restore and CREATE DATABASE as the operator. So a
/// restore checks that the folder is the operator's own, that the file really is a pg_dump archive, and that
/// every manifest value that reaches a command or SQL is one the module could have written.
/// </summary>
internal static class BackupTrust
{
    /// <summary>Every archive pg_dump writes (custom format, and a directory's toc.dat) starts with these bytes.</summary>
    private static readonly byte[] ArchiveMagic = "PGDMP"u8.ToArray();

    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>What aclexplode reports on a database, and what a restored database may be granted.</summary>
    private static readonly HashSet<string> DatabasePrivileges = new(StringComparer.Ordinal) { "CONNECT", "CREATE", "TEMPORARY" };

    private static readonly HashSet<string> LocaleProviders = new(StringComparer.Ordinal) { "libc", "icu", "builtin" };

    /// <summary>
    /// Refuses (PermissionDenied) a backup whose folder, archive or manifest another user could have written:
    /// owned by someone other than this user or root, or writable by group or others (a sticky folder too:
    /// others can still add files to it). With <paramref name="force"/> the check is skipped.
    /// </summary>
    public static void RequireOwnFolder(DatabaseBackup backup, bool force)
    {
        if (force)
            return;
        var folder = Path.GetDirectoryName(backup.Path)!;
        var checkedPaths = new List<string> { folder, backup.Path };
        if (backup.Format == BackupFormat.Directory && Directory.Exists(backup.Path))
            checkedPaths.AddRange(Directory.EnumerateFileSystemEntries(backup.Path));
        if (File.Exists(backup.ManifestPath))
            checkedPaths.Add(backup.ManifestPath);
        foreach (var path in checkedPaths)
            if (Problem(path) is { } problem)
                throw Untrusted(path, problem, folder, backup.Path,
                    $"another user could have planted or replaced the backup {backup.Path} or its manifest, and PuoOps does not restore from it");
    }

    /// <summary>
    /// The same rule for a folder Backup-PuoDatabase is about to write into: one that another user owns or can
    /// write to lets them replace a finished dump or manifest (which a later restore runs as the operator), or
    /// read what they planted there. Refused (PermissionDenied) unless <paramref name="force"/>.
    /// </summary>
    public static void RequireOwnBackupFolder(string folder, bool force)
    {
        if (!force && Problem(folder) is { } problem)
            throw Untrusted(folder, problem, folder, folder,
                "another user could replace or plant backups and manifests there, and PuoOps does not write backups into it");
    }

    private static PuoException Untrusted(string path, string problem, string folder, string target, string consequence) =>
        new(ErrorKind.PermissionDenied, "PuoOps.Backup.UntrustedFolder",
            $"{path} {problem}, so {consequence}. " +
            $"Keep backups in a folder only you can write (chmod 700 '{folder}', owned by you), or add -Force if you trust everyone who can write there.",
            target);

    private static string? Problem(string path)
    {
        if (OperatingSystem.IsWindows())
            return null; // modes and owners as checked here are Unix's
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
            return $"is a symbolic link (to {info.LinkTarget})";
        var mode = File.GetUnixFileMode(path);
        if ((mode & WritableByOthers) != 0)
            return $"is writable by {((mode & UnixFileMode.OtherWrite) != 0 ? "every user" : "its group")} (mode {Convert.ToString((int)mode, 8)})";
        if (OperatingSystem.IsLinux())
        {
            var (uid, _) = AtomicFile.Owner(path);
            if (uid != AtomicFile.CurrentUserId && uid != 0)
                return $"belongs to another user (uid {uid})";
        }
        return null;
    }

    /// <summary>
    /// Refuses (InvalidData) a path that is not a pg_dump archive: a custom-format file, or a directory-format
    /// folder with its toc.dat, each starting with pg_dump's header.
    /// </summary>
    public static void RequireArchive(DatabaseBackup backup)
    {
        var header = Directory.Exists(backup.Path) ? Path.Combine(backup.Path, "toc.dat") : backup.Path;
        if (!StartsWithMagic(header))
            throw new PuoException(ErrorKind.InvalidData, "PuoOps.Backup.NotAnArchive",
                $"{backup.Path} is not a pg_dump archive ({(header == backup.Path ? "it does not start with pg_dump's PGDMP header" : "it has no toc.dat starting with pg_dump's PGDMP header")}); nothing was restored. " +
                "Give a backup written by Backup-PuoDatabase (Get-PuoBackup lists them).", backup.Path);
    }

    private static bool StartsWithMagic(string path)
    {
        if (!File.Exists(path))
            return false;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Span<byte> head = stackalloc byte[5];
        return stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.SequenceEqual(ArchiveMagic);
    }

    /// <summary>
    /// A database name PuoOps accepts from a manifest or -Database: 1 to 63 bytes, no control character, and none
    /// of = ' " \ (libpq reads a name holding '=' as a connection string, and no PuoOps database needs them).
    /// </summary>
    public static string? DatabaseNameProblem(string name)
    {
        if (name.Length == 0)
            return "is empty";
        if (Encoding.UTF8.GetByteCount(name) > 63)
            return "is longer than PostgreSQL's 63 bytes";
        if (name.Any(char.IsControl))
            return "holds a control character";
        if (name.IndexOfAny(['=', '\'', '"', '\\']) >= 0)
            return "holds one of = ' \" \\ (a name with '=' is read by libpq as a connection string)";
        return null;
    }

    /// <summary>Throws InvalidArgument when -Database is not a name <see cref="DatabaseNameProblem"/> accepts.</summary>
    public static void RequireDatabaseName(string name, string what)
    {
        if (DatabaseNameProblem(name) is { } problem)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Backup.DatabaseName", $"{what} '{name}' {problem}.", name);
    }

    /// <summary>
    /// Refuses (InvalidData) a manifest holding a value the module could not have written: every value that
    /// reaches a command line or SQL is checked against an allow-list or a shape, the rest are only ever
    /// quoted as identifiers or literals where they are used.
    /// </summary>
    public static void Validate(BackupManifest manifest, string manifestPath)
    {
        var problems = new List<string>();
        if (DatabaseNameProblem(manifest.Database) is { } database)
            problems.Add($"Database '{manifest.Database}' {database}");
        if (!Enum.IsDefined(manifest.Format))
            problems.Add($"Format {manifest.Format} is not Custom or Directory");
        foreach (var chunk in manifest.Chunks ?? [])
            if (chunk.File.Length > 0 && (chunk.File != Path.GetFileName(chunk.File) || chunk.File is "." or ".."))
                problems.Add($"chunk file '{chunk.File}' is not a file name inside the backup");
            else if (chunk.Offset < 0 || chunk.Length < 0)
                problems.Add($"chunk of '{chunk.File}' has a negative offset or length");
        foreach (var table in manifest.Tables)
            if (table.Schema.Length == 0 || table.Name.Length == 0)
                problems.Add("a table without a schema or a name");
        if (manifest.Properties is { } properties)
        {
            if (properties.LocaleProvider is { } provider && !LocaleProviders.Contains(provider))
                problems.Add($"locale provider '{provider}' is not one of {string.Join(", ", LocaleProviders)}");
            if (properties.ConnectionLimit < -1)
                problems.Add($"connection limit {properties.ConnectionLimit} is below -1");
            if (properties.Owner.Length == 0)
                problems.Add("the database owner is empty");
            foreach (var grant in properties.Grants ?? [])
                if (!DatabasePrivileges.Contains(grant.Privilege))
                    problems.Add($"privilege '{grant.Privilege}' is not one of {string.Join(", ", DatabasePrivileges)}");
            foreach (var setting in properties.Settings)
                if (setting.Name.Length == 0 || !setting.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.'))
                    problems.Add($"setting name '{setting.Name}' is not a configuration parameter name");
        }
        if (problems.Count > 0)
            throw new PuoException(ErrorKind.InvalidData, "PuoOps.Backup.ManifestInvalid",
                $"The manifest '{manifestPath}' holds values Backup-PuoDatabase never writes, so it was not trusted and nothing was run: {string.Join("; ", problems)}. " +
                "Re-create the backup, or restore it by hand after reading the manifest.", manifestPath);
    }
}
