namespace PuoOps;

/// <summary>One file of incident evidence, as a line of its SHA256SUMS names it.</summary>
public sealed class EvidenceFile
{
    /// <summary>The path relative to the manifest that lists it (inside the archive: relative to its root).</summary>
    public string Name { get; init; } = "";

    public long SizeBytes { get; init; }
    public string Sha256 { get; init; } = "";
}

/// <summary>Save-PuoIncidentEvidence: what was preserved, where, and the hashes that prove it unchanged.</summary>
public sealed class IncidentEvidence
{
    public string Environment { get; init; } = "";

    /// <summary>The evidence folder (owner-only): the archive, the table dumps and SHA256SUMS.</summary>
    public string Path { get; init; } = "";

    /// <summary>The .tar.gz of the log files, holding its own SHA256SUMS of the files as archived.</summary>
    public string Archive { get; init; } = "";

    /// <summary>SHA256SUMS beside the archive, for <c>sha256sum -c</c> in the evidence folder.</summary>
    public string Manifest { get; init; } = "";

    public long ArchiveSizeBytes { get; init; }
    public string ArchiveSha256 { get; init; } = "";

    /// <summary>Each log file as archived: its name in the archive, the bytes taken (its size when opened) and their SHA-256.</summary>
    public IReadOnlyList<EvidenceFile> LogFiles { get; init; } = [];

    /// <summary>The pg_dump of each table (audit_logs.dump, ...), all from one snapshot.</summary>
    public IReadOnlyList<EvidenceFile> Dumps { get; init; } = [];

    public IReadOnlyList<string> Tables { get; init; } = [];

    /// <summary>The earliest time covered: the oldest audit_logs row or the oldest log file's last write.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>The latest time covered: the newest audit_logs row or the newest log file's last write.</summary>
    public DateTimeOffset? Until { get; init; }

    public DateTimeOffset CollectedAt { get; init; }
    public TimeSpan Duration { get; init; }
}
