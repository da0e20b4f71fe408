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
    /// pg_dump exits 1 for every failure and is a child process, so no exception type or SQLSTATE reaches us. What can be
    /// asked directly is asked first, while its unfinished output still fills the disk: the target file system's free
    /// space, and whether this user may still create a file in the backup folder.
    /// </summary>
    public static PuoException DumpFailed(ChildResult result, string target, string directory)
    {
        if (IsVolumeFull(directory))
            return DiskFull(directory, null);
        if (WriteDenied(directory) is { } denied)
            return new PuoException(ErrorKind.PermissionDenied, "PuoOps.Backup.DirectoryNotWritable",
                $"pg_dump of {target} could not write to '{directory}' (exit {result.ExitCode}): {denied.Message} Choose another -Path or fix its permissions.", directory, denied);
        if (PgDumpSaysPermissionDenied(result.ErrorTail))
            return new PuoException(ErrorKind.PermissionDenied, "PuoOps.Backup.DumpFailed",
                $"pg_dump of {target} was refused (exit {result.ExitCode}): {PgToolLog.LastLines(result.ErrorTail)}", target);
        return new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.DumpFailed",
            $"pg_dump of {target} failed (exit {result.ExitCode}); no backup was written. pg_dump said: {PgToolLog.LastLines(result.ErrorTail)}", target);
    }

    /// <summary>Less than one MiB left to this user: a write of pg_dump's (blocks of at most a few KiB) just failed for space.</summary>
    private static bool IsVolumeFull(string directory)
    {
        try
        {
            return DiskSpaceService.DriveOf(directory).AvailableFreeSpace < 1 << 20;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PuoException)
        {
            return false;
        }
    }

    private static UnauthorizedAccessException? WriteDenied(string directory)
    {
        try
        {
            ProbeWrite(directory);
            return null;
        }
        catch (UnauthorizedAccessException ex)
        {
            return ex;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Creates and removes one byte in <paramref name="directory"/>: proof that this user can write there now.</summary>
    public static void ProbeWrite(string directory)
    {
        var probe = Path.Combine(directory, $".puoops-probe-{Guid.NewGuid():N}");
        using (var stream = AtomicFile.CreateExclusive(probe))
            stream.WriteByte(0);
        File.Delete(probe);
    }

    /// <summary>
    /// The one place that reads pg_dump's words: a privilege the server refused mid-dump (a table's, a schema's, a lock's)
    /// reaches us only as pg_dump's stderr, since pg_dump prints no SQLSTATE. Privileges on the tables are checked
    /// before pg_dump starts (<c>RequireSelectAsync</c>), so this is the rare rest.
    /// </summary>
    private static bool PgDumpSaysPermissionDenied(string stderr) => stderr.Contains("permission denied", StringComparison.OrdinalIgnoreCase);
}
