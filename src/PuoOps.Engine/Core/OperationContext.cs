namespace PuoOps.Engine;

/// <summary>One progress report from a long engine call; the cmdlet shows it with Write-Progress.</summary>
public sealed record ProgressInfo(string Activity, string StatusDescription, int PercentComplete = -1, bool Completed = false, int ActivityId = 1);

/// <summary>
/// Everything an engine call needs besides its own arguments: the environment, the per-call timeout
/// (connecting and short commands), the cancellation that Ctrl+C triggers, and where to report progress,
/// verbose lines and warnings. Callbacks may fire on any thread; the cmdlet base pumps them onto the pipeline thread.
/// </summary>
public sealed class OperationContext
{
    public OperationContext(PuoEnvironment environment, TimeSpan timeout, CancellationToken cancellation,
        IProgress<ProgressInfo>? progress = null, Action<string>? verbose = null, Action<string>? warning = null)
    {
        Environment = environment;
        Timeout = timeout;
        Cancellation = cancellation;
        Progress = progress;
        Verbose = verbose;
        Warning = warning;
    }

    public PuoEnvironment Environment { get; }
    public TimeSpan Timeout { get; }
    public CancellationToken Cancellation { get; }
    public IProgress<ProgressInfo>? Progress { get; }
    public Action<string>? Verbose { get; }

    /// <summary>Where a call says what it could not see or do while still returning a result (a Warning in PowerShell).</summary>
    public Action<string>? Warning { get; }

    public int TimeoutSeconds => (int)Math.Ceiling(Timeout.TotalSeconds);

    public void Log(string message) => Verbose?.Invoke(message);

    public void Warn(string message) => Warning?.Invoke(message);

    public void Report(ProgressInfo info) => Progress?.Report(info);

    /// <summary>
    /// Runs <paramref name="operation"/> with a token that also expires after <see cref="Timeout"/>,
    /// and turns that expiry (not Ctrl+C) into a Timeout <see cref="PuoException"/> naming the target.
    /// </summary>
    public async Task<T> WithTimeoutAsync<T>(string errorId, string what, object target, Func<CancellationToken, Task<T>> operation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        timeout.CancelAfter(Timeout);
        try
        {
            return await operation(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (timeout.IsCancellationRequested && !Cancellation.IsCancellationRequested && ex is not PuoException)
        {
            throw new PuoException(ErrorKind.Timeout, errorId,
                $"{what} on {target} did not finish within {TimeoutSeconds} s. Check that the service answers, or raise -TimeoutSec.",
                target, ex);
        }
    }
}
