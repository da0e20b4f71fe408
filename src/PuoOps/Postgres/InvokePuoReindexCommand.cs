using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// The runbook's REINDEX INDEX CONCURRENTLY for the indexes named or piped in (from Get-PuoIndexUsage,
/// Get-PuoIndexBloat), with size before and after; a failed concurrent rebuild leaves no invalid index behind.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoReindex", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ReindexResult))]
public sealed class InvokePuoReindexCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [Alias("IndexName")]
    [ArgumentCompleter(typeof(IndexNameCompleter))]
    public string[] Index { get; set; } = [];

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string? Schema { get; set; }

    /// <summary>REINDEX CONCURRENTLY (the default) keeps the table writable; -Concurrently:$false locks writes for the rebuild.</summary>
    [Parameter]
    public SwitchParameter Concurrently { get; set; } = true;

    [Parameter]
    [Duration]
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    protected override void Begin() => PostgresRelations.ValidateLockTimeout(LockTimeout);

    protected override void Process()
    {
        var ctx = Context;
        var action = Concurrently ? "REINDEX INDEX CONCURRENTLY" : "REINDEX INDEX (blocks writes to the table while it runs)";
        var schema = PatternText(Schema, nameof(Schema));
        ForEachItem(Index, name => ForEachItem(Await(PostgresRelations.ResolveIndexesAsync(ctx, RelationPattern.Parse(schema, PatternText(name, nameof(Index))))), target =>
        {
            if (ShouldProcess($"index {target} on {target.Schema}.{target.Table} ({Units.Bytes(target.SizeBytes)})", action))
                WriteObject(Await(ReindexService.ReindexAsync(ctx, target, Concurrently, LockTimeout)));
        }));
    }
}
