namespace PuoOps;

/// <summary>What kind of failure an engine call met; the module maps it to a PowerShell ErrorCategory.</summary>
public enum ErrorKind
{
    Connection,
    Authentication,
    Timeout,
    NotFound,
    InvalidArgument,
    InvalidOperation,
    ResourceUnavailable,
    PermissionDenied,
    /// <summary>A file or value read back (a manifest, an archive) is not what it claims to be.</summary>
    InvalidData,
}

/// <summary>
/// An expected failure with a message fit for an operator: what failed, on which target and what to
/// try next. Never carries a secret. The cmdlets turn it into an ErrorRecord without a stack trace.
/// </summary>
public sealed class PuoException : Exception
{
    public PuoException(ErrorKind kind, string errorId, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        ErrorId = errorId;
        Target = target;
    }

    public ErrorKind Kind { get; }

    /// <summary>Stable id such as <c>PuoOps.Postgres.Connect</c>, used as the ErrorRecord's FullyQualifiedErrorId.</summary>
    public string ErrorId { get; }

    public object? Target { get; }
}
