using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// The runbook's VACUUM ANALYZE: the whole database, or the tables named or piped in (from Get-PuoTableSize,
/// Get-PuoMaintenanceStatus), one result per table. -Full takes an exclusive lock and asks once more (ShouldContinue) unless -Force.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoVacuum", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(MaintenanceResult))]
public sealed class InvokePuoVacuumCommand : TableMaintenanceCommand
{
    private VacuumOptions _options = null!;
    private bool _yesToAll;
    private bool _noToAll;

    [Parameter]
    public SwitchParameter Analyze { get; set; }

    /// <summary>VACUUM FULL: rewrites the table and gives space back to the OS, holding an ACCESS EXCLUSIVE lock meanwhile.</summary>
    [Parameter]
    public SwitchParameter Full { get; set; }

    [Parameter]
    public SwitchParameter SkipLocked { get; set; }

    /// <summary>VACUUM's PARALLEL option: workers for the index phase (0 disables).</summary>
    [Parameter]
    [ValidateRange(0, 1024)]
    public int? Parallel { get; set; }

    [Parameter]
    [Duration]
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Skip the second question -Full asks.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Begin()
    {
        _options = new VacuumOptions(Full, Analyze, SkipLocked, Parallel, LockTimeout);
        _options.Validate();
    }

    protected override void Process()
    {
        var ctx = Context;
        if (HasTables)
            ForEachSelectedTable(ctx, Table!, (table, position, count) =>
            {
                if (Confirm(table.ToString()))
                    WriteObject(Await(VacuumService.VacuumAsync(ctx, table, _options, position, count)));
            });
        else if (!PipedWithoutTable() && Confirm($"every table of {ctx.Environment.Postgres ?? ctx.Environment.Name}"))
            ForEachTableOf(Await(PostgresRelations.AllTablesAsync(ctx)), (table, position, count) =>
                WriteObject(Await(VacuumService.VacuumAsync(ctx, table, _options, position, count))));
    }

    /// <summary>
    /// ShouldProcess (-WhatIf, -Confirm) for the statement; for VACUUM FULL, which locks out reads and writes for
    /// the whole rewrite, PowerShell's standard second question as well (ShouldContinue, with Yes to All) unless -Force.
    /// </summary>
    private bool Confirm(string target) =>
        ShouldProcess(target, _options.Statement)
        && (!Full || Force || ShouldContinue(
            $"VACUUM FULL rewrites {target} under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes. Continue?",
            "Confirm VACUUM FULL", ref _yesToAll, ref _noToAll));
}
