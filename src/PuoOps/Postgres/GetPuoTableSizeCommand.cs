using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>The runbook's "check table sizes": tables largest first, with heap, index and TOAST bytes.</summary>
[Cmdlet(VerbsCommon.Get, "PuoTableSize")]
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

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Top { get; set; }

    protected override void Process() => WriteEach(TableSizeService.GetAsync(Context, Schema, Table, Top));
}
