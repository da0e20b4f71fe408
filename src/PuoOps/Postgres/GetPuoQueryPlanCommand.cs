using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// EXPLAIN (ANALYZE, BUFFERS) of one statement in a transaction that is always rolled back, under -TimeoutSec,
/// read for the usual suspects: the slowest nodes, sequential scans of large tables and bad row estimates.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PuoQueryPlan")]
[OutputType(typeof(QueryPlan))]
public sealed class GetPuoQueryPlanCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Statement")]
    [TextOrProperty(nameof(Query), "Statement")]
    public string Query { get; set; } = "";

    /// <summary>Plan only (EXPLAIN without ANALYZE): the statement is not run.</summary>
    [Parameter]
    public SwitchParameter NoAnalyze { get; set; }

    /// <summary>A sequential scan of a table with at least this many rows is reported.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long LargeTableRows { get; set; } = 10000;

    protected override void Process() =>
        WriteObject(Await(QueryPlanService.ExplainAsync(Context, Query, !NoAnalyze, LargeTableRows)));
}
