namespace PuoOps;

/// <summary>Get-PuoAuditLog: one row of audit_logs.</summary>
public sealed class AuditLogEntry
{
    public string Environment { get; init; } = "";
    public long Id { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public string? UserId { get; init; }
    public string Action { get; init; } = "";

    /// <summary>The client address (inet as text), so rows pipe into Block-PuoIpAddress.</summary>
    public string? IpAddress { get; init; }

    /// <summary>The details column as JSON text (ConvertFrom-Json reads it).</summary>
    public string? Details { get; init; }
}

/// <summary>Get-PuoAffectedUser: a user whose memories changed in the window, and how.</summary>
public sealed class AffectedUser
{
    public string Environment { get; init; } = "";
    public string UserId { get; init; } = "";

    /// <summary>How many of the user's memories changed (rows of memories with updated_at in the window).</summary>
    public long Rows { get; init; }

    public DateTimeOffset FirstChange { get; init; }
    public DateTimeOffset LastChange { get; init; }
}
