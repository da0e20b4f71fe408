namespace PuoOps.Engine.Logs;

/// <summary>
/// The files a log cmdlet's -Path names: a file; every file directly in a directory; or the files a path with
/// wildcards (the module's <see cref="NamePattern"/> rules, in any segment) matches. Files of a directory or a
/// wildcard come oldest first (by last write time), so rotated logs (api.log.2.gz, api.log.1, api.log) read in
/// the order they were written.
/// </summary>
public static class LogFiles
{
    /// <summary>
    /// Expands an absolute path. A literal path that does not exist is ObjectNotFound; a wildcard that matches
    /// nothing gives no files; a directory that may not be listed is PermissionDenied.
    /// </summary>
    public static IReadOnlyList<string> Expand(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var segments = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries)
            .Select(NamePattern.Parse).ToList();
        var found = new List<string> { root };
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            var last = i == segments.Count - 1;
            found = found.SelectMany(directory => segment.HasWildcards
                    ? List(directory, d => last ? d.EnumerateFiles() : d.EnumerateDirectories())
                        .Where(entry => segment.IsMatch(entry.Name)).Select(entry => entry.FullName)
                    : [Path.Combine(directory, segment.Literal!)])
                .Where(candidate => Directory.Exists(candidate) || (last && File.Exists(candidate)))
                .ToList();
        }
        if (found.Count == 0 && segments.All(s => !s.HasWildcards))
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Logs.NotFound", $"Cannot find the log file or directory {full}.", full);
        return Oldest(found.SelectMany(f => Directory.Exists(f) ? List(f, d => d.EnumerateFiles()) : [new FileInfo(f)]));
    }

    private static IReadOnlyList<string> Oldest(IEnumerable<FileSystemInfo> files) =>
        files.OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal).Select(f => f.FullName).ToList();

    private static List<FileSystemInfo> List(string directory, Func<DirectoryInfo, IEnumerable<FileSystemInfo>> entries)
    {
        try
        {
            return entries(new DirectoryInfo(directory)).ToList();
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Logs.PermissionDenied",
                $"Cannot list {directory}: permission denied. Run as a user who may read it.", directory, ex);
        }
    }
}
