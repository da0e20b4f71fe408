using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>Vacuum and analyze history, dead tuples and wraparound distance per table, plus one database row.</summary>
[Cmdlet(VerbsCommon.Get, "PuoMaintenanceStatus", SupportsPaging = true)]
[OutputType(typeof(MaintenanceStatus))]
public sealed class GetPuoMaintenanceStatusCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string? Table { get; set; }

    [Parameter]
    [SupportsWildcards]
    public string? Schema { get; set; }

    [Parameter]
    [ValidateRange(0.1, 100)]
    public double DeadWarningPercent { get; set; } = 10;

    [Parameter]
    [ValidateRange(0.1, 100)]
    public double DeadCriticalPercent { get; set; } = 20;

    /// <summary>Tables with fewer dead tuples are OK whatever their percentage: a 10-row table is not a problem.</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long MinimumDeadTuples { get; set; } = 1000;

    [Parameter]
    [ValidateRange(0.1, 100)]
    public double WraparoundWarningPercent { get; set; } = 50;

    [Parameter]
    [ValidateRange(0.1, 100)]
    public double WraparoundCriticalPercent { get; set; } = 75;

    protected override void Process() =>
        WriteEach(MaintenanceStatusService.GetAsync(Context, RelationPattern.Parse(Schema, Table), new MaintenanceThresholds(
            DeadWarningPercent, DeadCriticalPercent, MinimumDeadTuples, WraparoundWarningPercent, WraparoundCriticalPercent)));
}
