using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>Estimated B-tree index bloat, most wasted bytes first: what to pass to Invoke-PuoReindex.</summary>
[Cmdlet(VerbsCommon.Get, "PuoIndexBloat", SupportsPaging = true)]
[OutputType(typeof(IndexBloat))]
public sealed class GetPuoIndexBloatCommand : PuoCmdlet
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

    [Parameter]
    [ValidateRange(0.1, 100)]
    public double WarningPercent { get; set; } = 30;

    [Parameter]
    [ValidateRange(0.1, 100)]
    public double CriticalPercent { get; set; } = 50;

    protected override void Process()
    {
        var (tables, indexes) = RelationPattern.ParseIndexes(Schema, Table, Index);
        WriteRows(Await(IndexBloatService.GetAsync(Context, tables, indexes, WarningPercent, CriticalPercent)));
    }
}
