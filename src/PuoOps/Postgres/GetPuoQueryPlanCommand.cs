using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// EXPLAIN (ANALYZE, BUFFERS) of one statement in a READ ONLY transaction that is always rolled back, under
/// -TimeoutSec, read for the usual suspects: the slowest nodes, sequential scans of large tables and bad row
/// estimates. Text that arrives from the pipeline is someone else's (Get-PuoSlowQuery shows what any user ran),
/// so it is only planned unless -Analyze says to execute it.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PuoQueryPlan")]
[OutputType(typeof(QueryPlan))]
public sealed class GetPuoQueryPlanCommand : PuoCmdlet
{
    private bool _queryFromCaller;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Statement")]
    [TextOrProperty(nameof(Query), "Statement")]
    public string Query { get; set; } = "";

    /// <summary>Execute the statement (EXPLAIN ANALYZE) even when it came from the pipeline.</summary>
    [Parameter]
    public SwitchParameter Analyze { get; set; }

    /// <summary>Plan only (EXPLAIN without ANALYZE): the statement is not run.</summary>
    [Parameter]
    public SwitchParameter NoAnalyze { get; set; }

    /// <summary>A sequential scan of a table with at least this many rows is reported.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long LargeTableRows { get; set; } = 10000;

    protected override void Begin()
    {
        if (Analyze && NoAnalyze)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Postgres.AnalyzeConflict",
                "-Analyze and -NoAnalyze contradict each other; give one of them.", null));
        // Only parameters written on the command line are bound before the first record: the caller's own text.
        _queryFromCaller = MyInvocation.BoundParameters.ContainsKey(nameof(Query));
    }

    protected override void Process()
    {
        var analyze = Analyze || (!NoAnalyze && _queryFromCaller);
        if (!analyze && !NoAnalyze)
            WriteVerbose("The statement came from the pipeline, so it is planned without being executed; add -Analyze to execute it (read-only).");
        WriteObject(Await(QueryPlanService.ExplainAsync(Context, Query, analyze, LargeTableRows)));
    }
}
