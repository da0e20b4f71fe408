using System.Collections.Concurrent;
using System.Management.Automation;
using PuoOps.Engine;

namespace PuoOps.Commands;

/// <summary>
/// The one base class of every PuoOps cmdlet: resolves the environment, builds the engine's
/// <see cref="OperationContext"/>, waits for engine tasks on the pipeline thread while pumping their
/// progress and verbose lines, turns Ctrl+C into cancellation that returns within a second, and turns
/// engine failures into ErrorRecords. Derived cmdlets override <see cref="Begin"/>, <see cref="Process"/>
/// and <see cref="End"/>.
/// </summary>
public abstract class PuoCmdlet : PSCmdlet
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromMilliseconds(800);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<Action> _pending = new();
    private ulong _paged; // objects offered to WritePaged so far

    /// <summary>The environment to work on: a name, or an object from Get-PuoEnvironment. Defaults to the session default.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EnvironmentTransformation]
    [ArgumentCompleter(typeof(EnvironmentNameCompleter))]
    public PuoEnvironment? Environment { get; set; }

    /// <summary>Seconds to wait for connecting and for each short command before giving up.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 15;

    /// <summary>Cancelled when the user presses Ctrl+C (StopProcessing).</summary>
    protected CancellationToken StopToken => _stopping.Token;

    /// <summary>The environment for the current record: -Environment, else the session default.</summary>
    protected PuoEnvironment CurrentEnvironment => Environment ?? SessionEnvironments.Current.Resolve(null);

    /// <summary>
    /// A fresh context for an engine call, bound to this cmdlet's timeout, Ctrl+C and streams. The first call that
    /// reaches an environment warns what is insecure about reaching it (a remote server without verified TLS).
    /// </summary>
    protected OperationContext Context
    {
        get
        {
            var environment = CurrentEnvironment;
            WriteSecurityWarnings(environment);
            return new(environment, TimeSpan.FromSeconds(TimeoutSec), StopToken, new Progress(this), message => _pending.Enqueue(() => WriteVerbose(message)),
                WarningWriter);
        }
    }

    private Action<string> WarningWriter => message => _pending.Enqueue(() => WriteWarning(message));

    /// <summary>
    /// What an engine call left out and went on without (a file it cannot use): an error when it refused it as untrusted
    /// (InvalidData), otherwise a warning. Queued, so it is written from the pipeline thread.
    /// </summary>
    protected void ReportSkipped(PuoException skipped) => _pending.Enqueue(() =>
    {
        if (skipped.Kind == ErrorKind.InvalidData)
            WriteError(ErrorRecords.From(skipped));
        else
            WriteWarning(skipped.Message);
    });

    /// <summary>Writes the environment's security warnings, once per environment.</summary>
    protected void WriteSecurityWarnings(PuoEnvironment environment)
    {
        foreach (var warning in environment.TakeSecurityWarnings())
            WriteWarning(warning);
    }

    /// <summary>True under -WhatIf (or $WhatIfPreference): a preview changes nothing, so it needs no -Force.</summary>
    protected bool IsWhatIf =>
        MyInvocation.BoundParameters.TryGetValue("WhatIf", out var whatIf)
            ? ((SwitchParameter)whatIf).IsPresent
            : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));

    protected virtual void Begin() { }
    protected virtual void Process() { }
    protected virtual void End() { }

    // A failure in Begin (typically parameter validation) is terminating: no record could succeed after it.
    protected sealed override void BeginProcessing() => Guard(Begin, terminating: true);
    protected sealed override void ProcessRecord() => Guard(Process);
    protected sealed override void EndProcessing() => Guard(End);
    protected sealed override void StopProcessing() => _stopping.Cancel();

    /// <summary>Waits for an engine task on the pipeline thread and returns its result.</summary>
    protected T Await<T>(Task<T> task)
    {
        Pump(task);
        return task.GetAwaiter().GetResult();
    }

    protected void Await(Task task)
    {
        Pump(task);
        task.GetAwaiter().GetResult();
    }

    /// <summary>Writes each item of an engine stream as soon as it arrives.</summary>
    protected void WriteEach<T>(IAsyncEnumerable<T> items)
    {
        var enumerator = items.GetAsyncEnumerator(StopToken);
        try
        {
            while (true)
            {
                var next = enumerator.MoveNextAsync();
                if (!(next.IsCompletedSuccessfully ? next.Result : Await(next.AsTask())))
                    break;
                WriteObject(enumerator.Current);
            }
        }
        finally
        {
            // Disposing closes the reader or stream; do not let a stuck server hold Ctrl+C hostage.
            enumerator.DisposeAsync().AsTask().Wait(StopGrace);
        }
    }

    /// <summary>
    /// Writes <paramref name="item"/> unless -Skip passes over it or -First is already reached (SupportsPaging);
    /// false once nothing more will be written, so the caller may stop reading (with -IncludeTotalCount it reads on
    /// to count). Call <see cref="WriteTotalCount"/> at the end.
    /// </summary>
    protected bool WritePaged(object item)
    {
        _paged++;
        if (PagingParameters is not { } paging)
        {
            WriteObject(item);
            return true;
        }
        if (_paged <= paging.Skip)
            return true;
        var kept = _paged - paging.Skip;
        if (kept <= paging.First)
            WriteObject(item);
        return kept < paging.First || paging.IncludeTotalCount;
    }

    /// <summary>The total that -IncludeTotalCount asks for: every object offered to <see cref="WritePaged"/>.</summary>
    protected void WriteTotalCount()
    {
        if (PagingParameters is { IncludeTotalCount.IsPresent: true } paging)
            WriteObject(paging.NewTotalCount(_paged, 1.0));
    }

    /// <summary>Shows an engine progress report; only on the pipeline thread (engine callbacks use the queue).</summary>
    protected void WriteProgress(ProgressInfo value) =>
        WriteProgress(new ProgressRecord(value.ActivityId, value.Activity, value.StatusDescription)
        {
            PercentComplete = Math.Clamp(value.PercentComplete, -1, 100),
            RecordType = value.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        });

    /// <summary>
    /// Runs <paramref name="body"/> for each item; a failure of one item becomes a non-terminating error
    /// naming it, and the rest go on. Ctrl+C and PowerShell's own stop signals still end the loop.
    /// </summary>
    protected void ForEachItem<T>(IEnumerable<T> items, Action<T> body)
    {
        foreach (var item in items)
        {
            try
            {
                body(item);
            }
            catch (Exception ex) when (IsItemFailure(ex))
            {
                WriteItemError(ex, item);
            }
        }
    }

    /// <summary>A non-terminating error for one item: the pipeline goes on with the next.</summary>
    protected void WriteItemError(Exception exception, object? target = null) =>
        WriteError(ErrorRecords.From(ErrorTranslator.Translate(exception, SafeEnvironment()), target));

    /// <summary>A terminating error, for when nothing else in this call can succeed.</summary>
    protected void ThrowFatal(Exception exception, object? target = null) =>
        ThrowTerminatingError(ErrorRecords.From(ErrorTranslator.Translate(exception, SafeEnvironment()), target));

    /// <summary>
    /// Runs the pending progress and verbose writes and waits in short slices, so those writes happen on
    /// the pipeline thread (PowerShell throws on writes from others) and Ctrl+C is seen promptly.
    /// </summary>
    private void Pump(Task task)
    {
        var handle = ((IAsyncResult)task).AsyncWaitHandle;
        while (!task.IsCompleted)
        {
            Drain();
            if (StopToken.IsCancellationRequested)
            {
                // The engine has the token; give it a moment to stop cleanly, then leave it behind.
                handle.WaitOne(StopGrace);
                throw new PipelineStoppedException();
            }
            handle.WaitOne(50);
        }
        Drain();
    }

    private void Drain()
    {
        while (_pending.TryDequeue(out var write))
            write();
    }

    private void Guard(Action step, bool terminating = false)
    {
        try
        {
            step();
        }
        catch (Exception ex) when (StopToken.IsCancellationRequested && ex is OperationCanceledException or PuoException)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception ex) when (IsItemFailure(ex))
        {
            if (terminating)
                ThrowFatal(ex);
            WriteItemError(ex);
        }
        finally
        {
            Drain();
        }
    }

    /// <summary>A failure of the work itself, as opposed to Ctrl+C or PowerShell's own flow-control exceptions.</summary>
    private bool IsItemFailure(Exception ex) =>
        !StopToken.IsCancellationRequested
        && ex is not PipelineStoppedException and not PSInvalidOperationException and not ActionPreferenceStopException
            and not PipelineClosedException and not HaltCommandException and not ParameterBindingException;

    private PuoEnvironment? SafeEnvironment()
    {
        try
        {
            return CurrentEnvironment;
        }
        catch (PuoException)
        {
            return null;
        }
    }

    /// <summary>Queues engine progress so it is written from the pipeline thread.</summary>
    private sealed class Progress(PuoCmdlet cmdlet) : IProgress<ProgressInfo>
    {
        public void Report(ProgressInfo value) => cmdlet._pending.Enqueue(() => cmdlet.WriteProgress(value));
    }
}
