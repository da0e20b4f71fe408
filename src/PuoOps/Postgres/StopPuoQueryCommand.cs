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
    public DateTime? QueryStart { get; set; }

    [Parameter]
    public SwitchParameter Terminate { get; set; }

    /// <summary>Also signal server processes (autovacuum, WAL senders), which are refused otherwise.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var action = Terminate ? "Terminate" : "Cancel";
        ForEachItem(Pid, pid =>
        {
            var context = Context;
            var backend = Await(PostgresActivityService.GetBackendAsync(context, pid, Force));
            var what = $"pid {pid} ({backend.User}@{backend.Database}, {backend.State}): {Shorten(backend.Query)}";
            if (!ShouldProcess(what, Terminate ? "Terminate the backend (pg_terminate_backend)" : "Cancel the running query (pg_cancel_backend)"))
                return;
            // Only the pipeline's own query is guarded; a pid typed by hand means "whatever it runs now".
            var signalled = Await(PostgresActivityService.SignalAsync(context, pid, Terminate, QueryStart));
            WriteObject(new QueryStopResult
            {
                Environment = context.Environment.Name, Pid = pid, Action = action, Signalled = signalled,
                User = backend.User, Database = backend.Database, Query = backend.Query,
                Message = signalled ? $"{action} signal sent." : "Not signalled: the query had already finished or the backend had moved on to another one.",
            });
        });
    }

    private static string Shorten(string? query)
    {
        var flat = string.Join(' ', (query ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return flat.Length <= 80 ? flat : flat[..77] + "...";
    }
}
