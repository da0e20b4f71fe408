using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// pg_cancel_backend (default) or pg_terminate_backend for each pid, typically piped from
/// Get-PuoSlowQuery. ConfirmImpact is High for both: either way somebody's work is lost.
/// </summary>
[Cmdlet(VerbsLifecycle.Stop, "PuoQuery", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(QueryStopResult))]
public sealed class StopPuoQueryCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ProcessId")]
    [ValidateRange(1, int.MaxValue)]
    public int[] Pid { get; set; } = [];

    /// <summary>When piped from Get-PuoSlowQuery: only signal while the backend still runs that query.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DateTimeOffset? QueryStart { get; set; }

    [Parameter]
    public SwitchParameter Terminate { get; set; }

    /// <summary>Also signal server processes (autovacuum, WAL senders), which are refused otherwise.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process() => ForEachItem(Pid, pid =>
    {
        var context = Context;
        var backend = Await(PostgresActivityService.GetBackendAsync(context, pid, Force));
        if (ShouldProcess(backend.Describe(), Terminate ? "Terminate the backend (pg_terminate_backend)" : "Cancel the running query (pg_cancel_backend)"))
            // Only the pipeline's own query is guarded; a pid typed by hand means "whatever it runs now".
            WriteObject(Await(PostgresActivityService.StopAsync(context, backend, Terminate, QueryStart)));
    });
}
