using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// The runbook's VACUUM ANALYZE: the whole database, or the tables named or piped in (from Get-PuoTableSize,
/// Get-PuoMaintenanceStatus), one result per table. -Full takes an exclusive lock and confirms like High impact.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoVacuum", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(MaintenanceResult))]
public sealed class InvokePuoVacuumCommand : PuoCmdlet
{
    private VacuumOptions _options = null!;

    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[]? Table { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string? Schema { get; set; }

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
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Skip the extra confirmation of -Full.</summary>
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
        if (Table is null || Table.Length == 0)
        {
            var database = ctx.Environment.Postgres ?? ctx.Environment.Name;
            if (!ShouldProcess($"every table of {database}", _options.Statement) || !ConfirmFull($"every table of {database}"))
                return;
            Vacuum(ctx, Await(PostgresRelations.AllTablesAsync(ctx)), confirmEach: false);
            return;
        }
        ForEachItem(Table, name => Vacuum(ctx, Await(PostgresRelations.ResolveTablesAsync(ctx, Schema, name)), confirmEach: true));
    }

    protected override void End() =>
        WriteProgress(new ProgressRecord(1, _options.Statement, "Done") { RecordType = ProgressRecordType.Completed });

    private void Vacuum(Engine.OperationContext ctx, IReadOnlyList<TableTarget> tables, bool confirmEach)
    {
        var position = 0;
        ForEachItem(tables, table =>
        {
            var index = position++;
            if (!confirmEach || (ShouldProcess(table.ToString(), _options.Statement) && ConfirmFull(table.ToString())))
                WriteObject(Await(VacuumService.VacuumAsync(ctx, table, _options, index, tables.Count)));
        });
    }

    /// <summary>
    /// VACUUM FULL locks the table against reads and writes for the whole rewrite, so it confirms as a High-impact
    /// action would, while a plain VACUUM (Medium) does not; -Confirm, -Force or $ConfirmPreference = 'None' skip it.
    /// </summary>
    private bool ConfirmFull(string target)
    {
        if (!Full || Force || MyInvocation.BoundParameters.ContainsKey("Confirm"))
            return true;
        if (GetVariableValue("ConfirmPreference") is ConfirmImpact preference && preference == ConfirmImpact.None)
            return true;
        return ShouldContinue($"VACUUM FULL rewrites {target} under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes. Continue?",
            "Confirm VACUUM FULL");
    }
}
