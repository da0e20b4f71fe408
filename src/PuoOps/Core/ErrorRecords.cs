using System.Management.Automation;

namespace PuoOps.Commands;

/// <summary>Builds the ErrorRecord for an engine failure: its id, a category that means something, its target.</summary>
internal static class ErrorRecords
{
    public static ErrorRecord From(PuoException exception, object? target = null) =>
        new(exception, exception.ErrorId, Category(exception.Kind), target ?? exception.Target);

    /// <summary>An InvalidArgument error raised by the cmdlet itself, before anything is sent.</summary>
    public static ErrorRecord InvalidArgument(string errorId, string message, object? target) =>
        From(new PuoException(ErrorKind.InvalidArgument, errorId, message, target));

    private static ErrorCategory Category(ErrorKind kind) => kind switch
    {
        ErrorKind.Connection => ErrorCategory.ConnectionError,
        ErrorKind.Authentication => ErrorCategory.AuthenticationError,
        ErrorKind.Timeout => ErrorCategory.OperationTimeout,
        ErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        ErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        ErrorKind.ResourceUnavailable => ErrorCategory.ResourceUnavailable,
        ErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
        ErrorKind.InvalidData => ErrorCategory.InvalidData,
        _ => ErrorCategory.InvalidOperation,
    };
}
