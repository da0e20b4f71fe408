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
    public string[]? Table { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string? Schema { get; set; }

    [Parameter]
    public SwitchParameter SkipLocked { get; set; }

    [Parameter]
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    protected override void Begin()
    {
        try
        {
            PostgresRelations.ValidateLockTimeout(LockTimeout);
        }
        catch (PuoException ex)
        {
            ThrowFatal(ex);
        }
    }

    protected override void Process()
    {
        var ctx = Context;
        if (Table is null || Table.Length == 0)
        {
            if (ShouldProcess($"every table of {ctx.Environment.Postgres ?? ctx.Environment.Name}", "ANALYZE"))
                Analyze(ctx, Await(PostgresRelations.AllTablesAsync(ctx)), confirmEach: false);
            return;
        }
        foreach (var name in Table)
        {
            try
            {
                Analyze(ctx, Await(PostgresRelations.ResolveTablesAsync(ctx, Schema, name)), confirmEach: true);
            }
            catch (Exception ex) when (IsItemFailure(ex))
            {
                WriteItemError(ex, name);
            }
        }
    }

    protected override void End() =>
        WriteProgress(new ProgressRecord(1, "ANALYZE", "Done") { RecordType = ProgressRecordType.Completed });

    private void Analyze(Engine.OperationContext ctx, IReadOnlyList<TableTarget> tables, bool confirmEach)
    {
        for (var i = 0; i < tables.Count; i++)
        {
            var table = tables[i];
            if (confirmEach && !ShouldProcess(table.ToString(), "ANALYZE"))
                continue;
            try
            {
                WriteObject(Await(VacuumService.AnalyzeAsync(ctx, table, SkipLocked, LockTimeout, i, tables.Count)));
            }
            catch (Exception ex) when (IsItemFailure(ex))
            {
                WriteItemError(ex, table.ToString());
            }
        }
    }
}
