namespace PuoOps.Engine.Backup;

/// <summary>What a failed dump means to an operator: a full disk, a refused connection, or pg_dump's own last words.</summary>
internal static class BackupFailures
{
    /// <summary>ENOSPC (28 on Linux and macOS), and on Windows ERROR_HANDLE_DISK_FULL (39) and ERROR_DISK_FULL (112), in the HResult's low word.</summary>
    public static bool IsDiskFull(IOException ex) => (ex.HResult & 0xFFFF) is 28 or 39 or 112;

    public static PuoException DiskFull(string directory, Exception? inner) =>
        new(ErrorKind.ResourceUnavailable, "PuoOps.Backup.DiskFull",
            $"The disk holding '{directory}' is full; the unfinished backup was removed. Free space (see Test-PuoDiskSpace -Path '{directory}'), remove old backups (-Keep), or choose another -Path.",
            directory, inner);

    /// <summary>
    /// pg_dump exits 1 for every failure, so its stderr is all there is to tell a full disk or a refused
    /// permission from the rest.
    /// </summary>
    public static PuoException DumpFailed(ChildResult result, string target, string directory)
    {
        if (result.ErrorTail.Contains("No space left on device", StringComparison.OrdinalIgnoreCase))
            return DiskFull(directory, null);
        if (result.ErrorTail.Contains("Permission denied", StringComparison.OrdinalIgnoreCase))
            return new PuoException(ErrorKind.PermissionDenied, "PuoOps.Backup.DumpFailed",
                $"pg_dump of {target} was refused (exit {result.ExitCode}): {PgToolLog.LastLines(result.ErrorTail)}", target);
        return new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.DumpFailed",
            $"pg_dump of {target} failed (exit {result.ExitCode}); no backup was written. pg_dump said: {PgToolLog.LastLines(result.ErrorTail)}", target);
    }
}
