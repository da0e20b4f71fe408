using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>The runbook's ANALYZE: refreshes planner statistics of the whole database or of the tables named or piped in.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoAnalyze", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(MaintenanceResult))]
public sealed class InvokePuoAnalyzeCommand : TableMaintenanceCommand
{
    [Parameter]
    public SwitchParameter SkipLocked { get; set; }

    [Parameter]
    [Duration]
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    protected override void Begin() => PostgresRelations.ValidateLockTimeout(LockTimeout);

    protected override void Process()
    {
        var ctx = Context;
        if (HasTables)
            ForEachSelectedTable(ctx, Table!, (table, position, count) =>
            {
                if (ShouldProcess(table.ToString(), "ANALYZE"))
                    WriteObject(Await(VacuumService.AnalyzeAsync(ctx, table, SkipLocked, LockTimeout, position, count)));
            });
        else if (!PipedWithoutTable() && ShouldProcess($"every table of {ctx.Environment.Postgres ?? ctx.Environment.Name}", "ANALYZE"))
            ForEachTableOf(Await(PostgresRelations.AllTablesAsync(ctx)), (table, position, count) =>
                WriteObject(Await(VacuumService.AnalyzeAsync(ctx, table, SkipLocked, LockTimeout, position, count))));
    }
}
