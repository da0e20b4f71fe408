using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>The runbook's "check table sizes": tables largest first, with heap, index and TOAST bytes.</summary>
[Cmdlet(VerbsCommon.Get, "PuoTableSize", SupportsPaging = true)]
[OutputType(typeof(TableSize))]
public sealed class GetPuoTableSizeCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string? Table { get; set; }

    [Parameter]
    [SupportsWildcards]
    public string? Schema { get; set; }

    /// <summary>Deprecated spelling of -First, kept for one release.</summary>
    [Parameter(DontShow = true)]
    [ValidateRange(1, int.MaxValue)]
    public int? Top { get; set; }

    protected override void Begin()
    {
        if (Top is { } top && FirstRequested is null)
            PagingParameters.First = (ulong)top;
    }

    protected override void Process()
    {
        var limit = FirstRequested is { } first ? first + SkipRequested : (long?)null;
        WriteEach(TableSizeService.GetAsync(Context, RelationPattern.Parse(Schema, Table), PagingParameters.IncludeTotalCount ? null : limit));
    }
}
