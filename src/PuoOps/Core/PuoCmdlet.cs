using System.Collections.Concurrent;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Reflection;
using PuoOps.Engine;

namespace PuoOps.Commands;

/// <summary>
/// The one base class of every PuoOps cmdlet: resolves the environment, builds the engine's
/// <see cref="OperationContext"/>, waits for engine tasks on the pipeline thread while pumping their
/// progress and verbose lines, turns Ctrl+C into cancellation that returns within a second, and turns
/// engine failures into ErrorRecords, pages rows (-First/-Skip where the cmdlet supports paging), turns
/// name selectors into <see cref="NamePattern"/>s, and completes whatever progress is still shown when it
/// ends. Derived cmdlets override <see cref="Begin"/>, <see cref="Process"/> and <see cref="End"/>.
/// Its ShouldProcess and ShouldContinue stand in for PowerShell's: a change against a read-only environment
/// is refused, and a prompt no one can answer (no host UI) fails at once saying what to add.
/// </summary>
public abstract class PuoCmdlet : PSCmdlet
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromMilliseconds(800);
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<Action> _pending = new();
    private readonly Dictionary<int, string> _openProgress = [];
    private HashSet<string> _typedParameters = [];
    private ulong _rowsSeen;
    private ulong _rowsWritten;
    private bool _engineSkipsAndLimits;
    private ulong? _engineTotal;

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

    protected PuoCmdlet() => IsPaged = GetType().GetCustomAttribute<CmdletAttribute>()?.SupportsPaging == true;

    /// <summary>True for a cmdlet declared with SupportsPaging: its rows go through -Skip and -First.</summary>
    private bool IsPaged { get; }

    // A failure in Begin (typically parameter validation) is terminating: no record could succeed after it.
    protected sealed override void BeginProcessing()
    {
        // What is bound now was typed (or splatted); what binds later comes from the pipeline.
        _typedParameters = new HashSet<string>(MyInvocation.BoundParameters.Keys, StringComparer.OrdinalIgnoreCase);
        RefuseChangeToReadOnlyAtStart();
        Guard(Begin, terminating: true);
    }

    protected sealed override void ProcessRecord() => Guard(Process);

    protected sealed override void EndProcessing()
    {
        Guard(End);
        foreach (var (id, activity) in _openProgress)
            WriteProgress(new ProgressRecord(id, activity, "Done") { RecordType = ProgressRecordType.Completed });
        _openProgress.Clear();
        if (TotalCountRequested)
            WriteObject(_engineSkipsAndLimits
                ? PagingParameters.NewTotalCount(_engineTotal ?? 0, _engineTotal is null ? 0.0 : 1.0)
                : PagingParameters.NewTotalCount(_rowsSeen, 1.0));
    }

    protected sealed override void StopProcessing() => _stopping.Cancel();

    /// <summary>
    /// -First as the operator gave it (null when not given), for engines that can stop early or must know how
    /// many to find; <see cref="WriteRow"/> applies -Skip and -First to what they return either way.
    /// </summary>
    protected long? FirstRequested =>
        IsPaged && PagingParameters.First != ulong.MaxValue ? (long)Math.Min(PagingParameters.First, long.MaxValue) : null;

    /// <summary>
    /// The default view for the rows this call writes, when it is not the type's own: a switch that fills more
    /// properties (-Detailed, -Timestamps) selects the view that shows them, so no view shows a column that is
    /// empty in every row. Rows are then written with the type name <c>PuoOps.Type#RowView</c> first, which
    /// PuoOps.Format.ps1xml selects; the object itself is unchanged.
    /// </summary>
    protected string? RowView { get; set; }

    private object InRowView(object row)
    {
        if (RowView is null)
            return row;
        var wrapped = PSObject.AsPSObject(row);
        wrapped.TypeNames.Insert(0, $"{row.GetType().FullName}#{RowView}");
        return wrapped;
    }

    /// <summary>-Skip (0 when not given or the cmdlet does not page).</summary>
    protected long SkipRequested => IsPaged ? (long)Math.Min(PagingParameters.Skip, long.MaxValue) : 0;

    /// <summary>
    /// Writes one of many rows, honouring -Skip and -First (and counting it for -IncludeTotalCount, whose total
    /// the base writes after the rows); false once -First rows are written (and no total is asked for), so the
    /// caller can stop reading. After <see cref="EnginePage"/> the engine has paged them: each is written as it is.
    /// </summary>
    protected bool WriteRow(object row)
    {
        if (!IsPaged || _engineSkipsAndLimits)
        {
            WriteObject(InRowView(row));
            return true;
        }
        _rowsSeen++;
        if (_rowsSeen > PagingParameters.Skip && _rowsWritten < PagingParameters.First)
        {
            WriteObject(InRowView(row));
            _rowsWritten++;
        }
        return _rowsWritten < PagingParameters.First || PagingParameters.IncludeTotalCount;
    }

    /// <summary>
    /// For an engine that applies -Skip and -First itself (SQL OFFSET and LIMIT): the page to ask it for. The rows it
    /// returns then go through <see cref="WriteRow"/> as they are, and -IncludeTotalCount writes what <see cref="SetEngineTotal"/> was given
    /// after them. An engine that cannot count (<paramref name="engineCounts"/> false) is asked for every row
    /// under -IncludeTotalCount, and the base pages and counts them as usual.
    /// </summary>
    protected Page EnginePage(bool engineCounts)
    {
        if (!IsPaged || (TotalCountRequested && !engineCounts))
            return Page.All;
        _engineSkipsAndLimits = true;
        return new(SkipRequested, FirstRequested);
    }

    /// <summary>True when the operator asked for -IncludeTotalCount, so an engine that pages itself should count.</summary>
    protected bool TotalCountRequested => IsPaged && PagingParameters.IncludeTotalCount;

    /// <summary>
    /// The engine's count of every matching row, for -IncludeTotalCount after <see cref="EnginePage"/>; the counts of
    /// several piped records add up.
    /// </summary>
    protected void SetEngineTotal(long total) => _engineTotal = (_engineTotal ?? 0) + (ulong)Math.Max(0, total);

    /// <summary>Writes rows through <see cref="WriteRow"/> until -First is reached.</summary>
    protected void WriteRows<T>(IEnumerable<T> rows)
    {
        foreach (var row in rows)
            if (!WriteRow(row!))
                return;
    }

    /// <summary>
    /// A name selector's values as patterns: typed, each is a wildcard pattern; bound from a piped record (by
    /// property name) or piped by value, each is exactly that name, so a record selects itself and nothing more.
    /// </summary>
    protected IReadOnlyList<NamePattern> NamePatterns(IEnumerable<string>? values, string parameterName) =>
        values?.Select(value => NamePattern.Parse(FromPipeline(parameterName) ? NamePattern.Escape(value) : value)).ToList() ?? [];

    /// <summary>
    /// Runs <paramref name="body"/> for each value of a name selector as a pattern (see <see cref="NamePatterns"/>);
    /// a failure (a malformed pattern, a name that matches nothing) is that value's error, naming it as typed.
    /// </summary>
    protected void ForEachPattern(IEnumerable<string> values, string parameterName, Action<NamePattern> body) =>
        ForEachItem(values, value => body(NamePatterns([value], parameterName)[0]));

    /// <summary>The value of a name selector as <see cref="NamePatterns"/> reads it: a typed pattern, or escaped to match only itself when piped.</summary>
    protected string? PatternText(string? value, string parameterName) =>
        value is null || !FromPipeline(parameterName) ? value : NamePattern.Escape(value);

    /// <summary>True when <paramref name="parameterName"/> was bound from the pipeline rather than typed.</summary>
    protected bool FromPipeline(string parameterName) =>
        MyInvocation.BoundParameters.ContainsKey(parameterName) && !_typedParameters.Contains(parameterName);

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

    /// <summary>Writes each item of an engine stream as soon as it arrives (through -Skip and -First where the cmdlet pages).</summary>
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
                if (!WriteRow(enumerator.Current!))
                    break;
            }
        }
        finally
        {
            // Disposing closes the reader or stream; do not let a stuck server hold Ctrl+C hostage.
            enumerator.DisposeAsync().AsTask().Wait(StopGrace);
        }
    }

    /// <summary>
    /// Shows an engine progress report and remembers what is still shown, so that <see cref="EndProcessing"/>
    /// completes it; only on the pipeline thread (engine callbacks use the queue).
    /// </summary>
    protected void WriteProgress(ProgressInfo value)
    {
        if (value.Completed)
            _openProgress.Remove(value.ActivityId);
        else
            _openProgress[value.ActivityId] = value.Activity;
        WriteProgress(new ProgressRecord(value.ActivityId, value.Activity, value.StatusDescription)
        {
            PercentComplete = Math.Clamp(value.PercentComplete, -1, 100),
            RecordType = value.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        });
    }

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

    /// <summary>
    /// True for a cmdlet that changes only this session, not the environment's servers (Disconnect-PuoEnvironment):
    /// a read-only environment does not refuse it.
    /// </summary>
    protected virtual bool ChangesOnlyTheSession => false;

    public new bool ShouldProcess(string target) => Ask(target, () => base.ShouldProcess(target));

    public new bool ShouldProcess(string target, string action) => Ask(target, () => base.ShouldProcess(target, action));

    public new bool ShouldProcess(string verboseDescription, string verboseWarning, string caption) =>
        Ask(verboseDescription, () => base.ShouldProcess(verboseDescription, verboseWarning, caption));

    public new bool ShouldProcess(string verboseDescription, string verboseWarning, string caption, out ShouldProcessReason shouldProcessReason)
    {
        var reason = ShouldProcessReason.None;
        var answer = Ask(verboseDescription, () => base.ShouldProcess(verboseDescription, verboseWarning, caption, out reason));
        shouldProcessReason = reason;
        return answer;
    }

    /// <summary>An extra question beyond ShouldProcess (VACUUM FULL's lock): asked only where someone can answer.</summary>
    public new bool ShouldContinue(string query, string caption) => Ask(query, () => base.ShouldContinue(query, caption), alwaysPrompts: true);

    /// <summary>The same, with Yes to All and No to All remembered across the records of one pipeline.</summary>
    public new bool ShouldContinue(string query, string caption, ref bool yesToAll, ref bool noToAll)
    {
        bool yes = yesToAll, no = noToAll;
        var answer = Ask(query, () => base.ShouldContinue(query, caption, ref yes, ref no), alwaysPrompts: true);
        (yesToAll, noToAll) = (yes, no);
        return answer;
    }

    /// <summary>
    /// Progress is drawn for someone watching a console. Where the console's output goes to a file or a pipe (a script's
    /// log, a CI job), nobody sees it and the drawing only gets in the way of the output, so it is left out; hosts
    /// without a console (Azure Automation, a runspace with no host) still receive the records.
    /// </summary>
    public new void WriteProgress(ProgressRecord progressRecord)
    {
        if (IsConsoleHost && Console.IsOutputRedirected)
            return;
        base.WriteProgress(progressRecord);
    }

    private bool IsConsoleHost => Host.Name == "ConsoleHost";

    private bool DeclaresShouldProcess => GetType().GetCustomAttribute<CmdletAttribute>()?.SupportsShouldProcess == true;

    /// <summary>
    /// Refuses before anything runs when the environment is already known (given, or the default when nothing is
    /// piped); an environment that arrives with a piped record is checked when the change is asked for.
    /// </summary>
    private void RefuseChangeToReadOnlyAtStart()
    {
        if (!DeclaresShouldProcess || ChangesOnlyTheSession || (Environment is null && MyInvocation.ExpectingInput))
            return;
        PuoEnvironment environment;
        try
        {
            environment = CurrentEnvironment;
        }
        catch (PuoException)
        {
            return; // no environment: the cmdlet's own call reports that
        }
        RefuseChangeToReadOnly(environment);
    }

    private void RefuseChangeToReadOnly(PuoEnvironment environment)
    {
        if (!environment.ReadOnly || IsWhatIf)
            return;
        var command = MyInvocation.MyCommand.Name;
        ThrowTerminatingError(ErrorRecords.From(new PuoException(ErrorKind.PermissionDenied, "PuoOps.Environment.ReadOnly",
            $"{command} changes state, and environment '{environment.Name}' was connected with -ReadOnly, so {command} refuses to act against it, " +
            "even with -Confirm:$false. Add -WhatIf to see what it would do, or connect the environment again without -ReadOnly to make changes.",
            environment.Name)));
    }

    /// <summary>
    /// PowerShell's own ShouldProcess or ShouldContinue, after the read-only check (-WhatIf still describes). Where no one
    /// can answer a prompt (a runspace without host UI as in Azure Automation, pwsh -NonInteractive, a console whose input
    /// is not a terminal as in a scheduled task), the cmdlet fails at once saying to add -Confirm:$false.
    /// </summary>
    private bool Ask(string target, Func<bool> ask, bool alwaysPrompts = false)
    {
        if (!ChangesOnlyTheSession)
            RefuseChangeToReadOnly(CurrentEnvironment);
        // The console host reads an answer from a redirected input as if it were typed, and fails inside PowerShell
        // when there is none; so do not let it try.
        if (IsConsoleHost && Console.IsInputRedirected && (alwaysPrompts || WouldPrompt()))
            RefusePrompt(target, null, alwaysPrompts);
        try
        {
            return ask();
        }
        catch (Exception ex) when (ex is HostException or PSInvalidOperationException)
        {
            RefusePrompt(target, ex, alwaysPrompts);
            return false;
        }
    }

    /// <summary>What ShouldProcess itself decides: prompt under -Confirm, or when the impact reaches $ConfirmPreference.</summary>
    private bool WouldPrompt()
    {
        if (IsWhatIf)
            return false;
        if (MyInvocation.BoundParameters.TryGetValue("Confirm", out var confirm))
            return ((SwitchParameter)confirm).IsPresent;
        var impact = GetType().GetCustomAttribute<CmdletAttribute>()?.ConfirmImpact ?? ConfirmImpact.Medium;
        // A script's own $ConfirmPreference = 'None' is a string, not the typed global: convert it as PowerShell does.
        var preference = LanguagePrimitives.TryConvertTo(GetVariableValue("ConfirmPreference"), out ConfirmImpact set) ? set : ConfirmImpact.High;
        return preference != ConfirmImpact.None && impact >= preference;
    }

    /// <param name="extraQuestion">ShouldContinue's question, which -Confirm:$false does not answer; -Force does.</param>
    private void RefusePrompt(string target, Exception? cause, bool extraQuestion)
    {
        var command = MyInvocation.MyCommand.Name;
        var answer = extraQuestion ? "-Force (with -Confirm:$false)" : "-Confirm:$false";
        var message = $"{command} asks for confirmation before it acts on '{target}', and this session cannot ask anyone " +
                      "(no interactive host: Azure Automation, a scheduled task, pwsh -NonInteractive or input that is not a terminal). " +
                      $"Add {answer} to run {command} unattended, or -WhatIf to see what it would do.";
        ThrowTerminatingError(new ErrorRecord(new PSInvalidOperationException(message, cause), "PuoOps.Core.ConfirmationUnavailable",
            ErrorCategory.InvalidOperation, target));
    }

    /// <summary>
    /// Queues engine progress so it is written from the pipeline thread, and remembers what is still shown so
    /// that <see cref="EndProcessing"/> completes it.
    /// </summary>
    private sealed class Progress(PuoCmdlet cmdlet) : IProgress<ProgressInfo>
    {
        public void Report(ProgressInfo value) => cmdlet._pending.Enqueue(() => cmdlet.WriteProgress(value));
    }
}
