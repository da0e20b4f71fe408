namespace PuoOps;

/// <summary>pg_dump's archive format: one compressed file, or a folder that dumps and restores in parallel.</summary>
public enum BackupFormat
{
    Custom,
    Directory,
}

/// <summary>The row count of one table at the moment of the dump (same snapshot as pg_dump).</summary>
public sealed class BackupTable
{
    public string Schema { get; init; } = "";
    public string Name { get; init; } = "";
    public long Rows { get; init; }

    public override string ToString() => $"{Schema}.{Name}";
}

/// <summary>The last check of a backup by Test-PuoBackup, kept in its manifest.</summary>
public sealed class BackupVerification
{
    public DateTimeOffset Time { get; init; }
    /// <summary>"Checksum" (checksums and pg_restore --list) or "Restore" (also restored and compared).</summary>
    public string Level { get; init; } = "";
    public Status Status { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>One pg_dump backup on disk with its manifest: what Backup-PuoDatabase and Get-PuoBackup return.</summary>
public sealed class DatabaseBackup
{
    /// <summary>The environment that made it (Backup-PuoDatabase), so Test-PuoBackup -Restore binds to the same server.</summary>
    public string? Environment { get; init; }
    public string Path { get; init; } = "";
    public string Name { get; init; } = "";
    public string ManifestPath { get; init; } = "";
    public bool HasManifest { get; init; }
    public string Database { get; init; } = "";
    public BackupFormat Format { get; init; }
    public DateTimeOffset Time { get; init; }
    public TimeSpan Age => DateTimeOffset.Now - Time;
    public long SizeBytes { get; init; }
    public string? Sha256 { get; init; }
    /// <summary>The manifest's chunk checksums, which Test-PuoBackup checks on every core at once.</summary>
    internal IReadOnlyList<Engine.Backup.BackupChunk>? Chunks { get; init; }
    /// <summary>The source database's owner, locale, privileges and settings (manifests from before these: null).</summary>
    internal Engine.Backup.DatabaseProperties? Properties { get; init; }
    public string? ServerVersion { get; init; }
    public string? AlembicVersion { get; init; }
    public DateTimeOffset? StartTime { get; init; }
    public DateTimeOffset? EndTime { get; init; }
    public TimeSpan? Duration => EndTime - StartTime;
    public long? DatabaseSizeBytes { get; init; }
    /// <summary>True for a -Table dump: only <see cref="Tables"/> are in it.</summary>
    public bool Partial { get; init; }
    public IReadOnlyList<BackupTable> Tables { get; init; } = [];
    public BackupVerification? LastVerification { get; init; }
    public bool Verified => LastVerification is { Status: Status.OK };

    public override string ToString() => Path;
}

/// <summary>Test-PuoBackup: whether a backup is intact, readable, fresh and (with -Restore) restorable.</summary>
public sealed class BackupTestResult
{
    public string? Environment { get; init; }
    public string Path { get; init; } = "";
    public string Database { get; init; } = "";
    public Status Status { get; init; }
    public DateTimeOffset? Time { get; init; }
    public TimeSpan? Age { get; init; }
    public bool? ChecksumMatches { get; init; }
    /// <summary>pg_restore --list read the archive's table of contents.</summary>
    public bool? Readable { get; init; }
    public long? TocEntries { get; init; }
    public bool? Restored { get; init; }
    public bool? RowCountsMatch { get; init; }
    public bool? AlembicVersionMatches { get; init; }
    public bool? SanityQueryPassed { get; init; }
    public IReadOnlyList<string> Mismatches { get; init; } = [];
    public TimeSpan Duration { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Restore-PuoBackup: what was restored where, and what the previous database is now called.</summary>
public sealed class RestoreResult
{
    public string Environment { get; init; } = "";
    public string Database { get; init; } = "";
    public string BackupPath { get; init; } = "";
    public string? PreviousDatabase { get; init; }
    public bool PreviousDropped { get; init; }
    public bool Verified { get; init; }
    public IReadOnlyDictionary<string, long> RowCounts { get; init; } = new Dictionary<string, long>();
    public string? AlembicVersion { get; init; }
    public TimeSpan RestoreDuration { get; init; }
    public TimeSpan VerifyDuration { get; init; }
    public TimeSpan SwapDuration { get; init; }
    public TimeSpan Duration { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Test-PuoDiskSpace: free space where backups (or data) go, and whether the next backup fits.</summary>
public sealed class DiskSpace
{
    public string? Environment { get; init; }
    public string Path { get; init; } = "";
    public string MountPoint { get; init; } = "";
    public Status Status { get; init; }
    public long TotalBytes { get; init; }
    public long FreeBytes { get; init; }
    public double UsedPercent { get; init; }
    public long? DatabaseSizeBytes { get; init; }
    public long? LastBackupSizeBytes { get; init; }
    public long? EstimatedBackupBytes { get; init; }
    /// <summary>Null when there is nothing to estimate from (no PostgreSQL in the environment).</summary>
    public bool? NextBackupFits { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Get-PuoMigrationVersion: the alembic revision(s) a database is at.</summary>
public sealed class MigrationVersion
{
    public string Environment { get; init; } = "";
    public string Database { get; init; } = "";
    /// <summary>Null when the database has no alembic_version table.</summary>
    public string? Version { get; init; }
    /// <summary>All rows of alembic_version (more than one with branched heads).</summary>
    public IReadOnlyList<string> Versions { get; init; } = [];
}

/// <summary>One step of Invoke-PuoMigration with its timing.</summary>
public sealed class MigrationStep
{
    public string Name { get; init; } = "";
    public Status Status { get; set; } = Status.Unknown;
    public DateTimeOffset Started { get; init; }
    public TimeSpan Duration { get; set; }
    public string Message { get; set; } = "";
}

/// <summary>Invoke-PuoMigration: the record of the guarded migration, step by step.</summary>
public sealed class MigrationResult
{
    public string Environment { get; init; } = "";
    public string Database { get; init; } = "";
    public bool Succeeded { get; set; }
    public string? VersionBefore { get; set; }
    public string? VersionAfter { get; set; }
    public string? ReportedVersion { get; set; }
    /// <summary>The verified backup taken before the migration: what to restore from.</summary>
    public string? BackupPath { get; set; }
    public bool Restored { get; set; }
    public List<MigrationStep> Steps { get; } = [];
    public TimeSpan Duration => Steps.Aggregate(TimeSpan.Zero, (sum, step) => sum + step.Duration);
    public string Message { get; set; } = "";
}
