using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>The runbook's "warm cache" step: pg_prewarm on tables, their TOAST tables and their indexes.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoPrewarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(PrewarmResult))]
public sealed class InvokePuoPrewarmCommand : TableMaintenanceCommand
{
    /// <summary>pg_prewarm's mode. A string, not the engine's enum: a value-type field would load the engine before the module sets up its load context.</summary>
    [Parameter]
    [ValidateSet("Buffer", "Read", "Prefetch")]
    public string Mode { get; set; } = "Buffer";

    protected override void Process()
    {
        if (PipedWithoutTable())
            return;
        var ctx = Context;
        var function = Await(PrewarmService.FindFunctionAsync(ctx));
        // Without -Table: every table of the application schemas.
        ForEachSelectedTable(ctx, HasTables ? Table! : ["*"], (table, _, _) =>
        {
            if (ShouldProcess(table.ToString(), $"pg_prewarm ({Mode.ToLowerInvariant()}) the table and its indexes"))
                WriteEach(PrewarmService.PrewarmAsync(ctx, function, table, Enum.Parse<PrewarmMode>(Mode, ignoreCase: true)));
        });
    }
}
