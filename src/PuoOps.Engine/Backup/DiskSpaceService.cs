using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// The runbook's "df -h /backup" as a check: free space on the file system holding a path, and whether
/// the next backup of the environment's database fits, estimated from the last backup there (scaled by
/// how much the database grew since) or, with no backup yet, from the database size.
/// </summary>
public static class DiskSpaceService
{
    /// <summary>Headroom kept on top of the estimate: backups vary, and a full disk hurts everyone on it.</summary>
    private const double Margin = 1.1;

    /// <summary>The mounted file system holding <paramref name="fullPath"/> (or its nearest existing parent).</summary>
    internal static DriveInfo DriveOf(string fullPath)
    {
        var existing = fullPath;
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent)
            existing = parent;
        return DriveInfo.GetDrives()
            .Where(d => IsUnder(existing, d.RootDirectory.FullName))
            .MaxBy(d => d.RootDirectory.FullName.Length)
            ?? throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.NoFileSystem", $"No mounted file system holds '{fullPath}'.", fullPath);
    }

    /// <summary>
    /// Free space on the file system holding <paramref name="path"/>; with <paramref name="estimateBackup"/> (a backup
    /// folder) also whether the next backup of the environment's database fits there.
    /// </summary>
    public static async Task<DiskSpace> TestAsync(OperationContext ctx, string path, double warningPercent, double criticalPercent, bool estimateBackup = true)
    {
        Thresholds.Validate(warningPercent, criticalPercent);
        var fullPath = Path.GetFullPath(path);
        var drive = DriveOf(fullPath);
        long total = drive.TotalSize, free = drive.AvailableFreeSpace;
        var usedPercent = total == 0 ? double.NaN : 100.0 * (total - drive.TotalFreeSpace) / total;

        long? databaseSize = null, lastBackupSize = null, estimate = null;
        string? database = null;
        if (estimateBackup && ctx.Environment.PostgresEndpoint is not null)
        {
            (database, databaseSize) = await PostgresConnections.ReadAsync(ctx, async connection =>
            {
                await using var command = connection.Command("SELECT current_database(), pg_database_size(current_database())", ctx);
                await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
                await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false);
                return (reader.GetString(0), reader.GetInt64(1));
            }).ConfigureAwait(false);
            var last = Directory.Exists(fullPath)
                ? BackupStore.List(fullPath, skipped => ctx.Warn(skipped.Message)).FirstOrDefault(b => b.Database == database && !b.Partial && b.DatabaseSizeBytes > 0)
                : null;
            lastBackupSize = last?.SizeBytes;
            estimate = last is null
                ? databaseSize
                : (long)(last.SizeBytes * Math.Max(1.0, (double)databaseSize.Value / last.DatabaseSizeBytes!.Value));
        }
        bool? fits = estimate is null ? null : estimate * Margin <= free;

        var status = Thresholds.Classify(usedPercent, warningPercent, criticalPercent);
        if (fits == false)
            status = Status.Critical;
        var message = fits switch
        {
            false => $"The next backup of {database} needs about {Units.Bytes(estimate!.Value)} (+10%), only {Units.Bytes(free)} is free on {drive.RootDirectory.FullName}.",
            true => $"{Units.Bytes(free)} free ({usedPercent:0.#}% used); the next backup of {database} needs about {Units.Bytes(estimate!.Value)}.",
            null => $"{Units.Bytes(free)} free ({usedPercent:0.#}% used).",
        };
        return new DiskSpace
        {
            Environment = ctx.Environment.Name, Path = fullPath, MountPoint = drive.RootDirectory.FullName, Status = status,
            TotalBytes = total, FreeBytes = free, UsedPercent = Math.Round(usedPercent, 1), DatabaseSizeBytes = databaseSize,
            LastBackupSizeBytes = lastBackupSize, EstimatedBackupBytes = estimate, NextBackupFits = fits, Message = message,
        };
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="root"/> or below it, with the platform's separator and case rule.</summary>
    private static bool IsUnder(string path, string root)
    {
        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var folder = Path.TrimEndingDirectorySeparator(root);
        return string.Equals(Path.TrimEndingDirectorySeparator(path), folder, comparison)
               || path.StartsWith(Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar, comparison);
    }
}
