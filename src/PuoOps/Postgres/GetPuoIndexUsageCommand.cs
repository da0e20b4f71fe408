using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// The runbook's "check indexes" and "identify unused indexes": every index with its scans, size, definition
/// and the flags that say whether it may be dropped; or only the unused, duplicate or invalid ones.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PuoIndexUsage", DefaultParameterSetName = "All", SupportsPaging = true)]
[OutputType(typeof(IndexUsage))]
public sealed class GetPuoIndexUsageCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string? Table { get; set; }

    [Parameter]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(IndexNameCompleter))]
    public string? Index { get; set; }

    [Parameter]
    [SupportsWildcards]
    public string? Schema { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = "Unused")]
    public SwitchParameter Unused { get; set; }

    [Parameter(ParameterSetName = "Unused")]
    [Duration]
    public TimeSpan MinimumStatsAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>No warning when the statistics are younger than -MinimumStatsAge.</summary>
    [Parameter(ParameterSetName = "Unused")]
    public SwitchParameter Force { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = "Duplicate")]
    public SwitchParameter Duplicate { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = "Invalid")]
    public SwitchParameter Invalid { get; set; }

    protected override void Begin()
    {
        if (MinimumStatsAge < TimeSpan.Zero)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Postgres.MinimumStatsAge",
                $"-MinimumStatsAge must not be negative (got {MinimumStatsAge}).", MinimumStatsAge));
    }

    protected override void Process()
    {
        var filter = Unused ? IndexUsageFilter.Unused : Duplicate ? IndexUsageFilter.Duplicate : Invalid ? IndexUsageFilter.Invalid : IndexUsageFilter.All;
        var (tables, indexes) = RelationPattern.ParseIndexes(Schema, Table, Index);
        WriteEach(IndexUsageService.GetAsync(Context, tables, indexes, filter, MinimumStatsAge, Force));
    }
}
