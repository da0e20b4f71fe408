using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>The runbook's ANALYZE: refreshes planner statistics of the whole database or of the tables named or piped in.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoAnalyze", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(MaintenanceResult))]
public sealed class InvokePuoAnalyzeCommand : PuoCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[]? Table { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string? Schema { get; set; }

    [Parameter]
    public SwitchParameter SkipLocked { get; set; }

    [Parameter]
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    protected override void Begin() => PostgresRelations.ValidateLockTimeout(LockTimeout);

    protected override void Process()
    {
        var ctx = Context;
        if (Table is null || Table.Length == 0)
        {
            if (ShouldProcess($"every table of {ctx.Environment.Postgres ?? ctx.Environment.Name}", "ANALYZE"))
                Analyze(ctx, Await(PostgresRelations.AllTablesAsync(ctx)), confirmEach: false);
            return;
        }
        ForEachItem(Table, name => Analyze(ctx, Await(PostgresRelations.ResolveTablesAsync(ctx, Schema, name)), confirmEach: true));
    }

    protected override void End() =>
        WriteProgress(new ProgressRecord(1, "ANALYZE", "Done") { RecordType = ProgressRecordType.Completed });

    private void Analyze(Engine.OperationContext ctx, IReadOnlyList<TableTarget> tables, bool confirmEach)
    {
        var position = 0;
        ForEachItem(tables, table =>
        {
            var index = position++;
            if (!confirmEach || ShouldProcess(table.ToString(), "ANALYZE"))
                WriteObject(Await(VacuumService.AnalyzeAsync(ctx, table, SkipLocked, LockTimeout, index, tables.Count)));
        });
    }
}
