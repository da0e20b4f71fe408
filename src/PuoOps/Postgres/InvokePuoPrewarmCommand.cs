using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>The runbook's "warm cache" step: pg_prewarm on tables, their TOAST tables and their indexes.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoPrewarm", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(PrewarmResult))]
public sealed class InvokePuoPrewarmCommand : PuoCmdlet
{
    /// <summary>Tables to load; without it, every table of the application schemas.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[]? Table { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string? Schema { get; set; }

    /// <summary>pg_prewarm's mode. A string, not the engine's enum: a value-type field would load the engine before the module sets up its load context.</summary>
    [Parameter]
    [ValidateSet("Buffer", "Read", "Prefetch")]
    public string Mode { get; set; } = "Buffer";

    protected override void Process()
    {
        var ctx = Context;
        var function = Await(PrewarmService.FindFunctionAsync(ctx));
        ForEachItem(Table is { Length: > 0 } ? Table : ["*"], name => ForEachItem(Await(PostgresRelations.ResolveTablesAsync(ctx, Schema, name)), table =>
        {
            if (ShouldProcess(table.ToString(), $"pg_prewarm ({Mode.ToLowerInvariant()}) the table and its indexes"))
                WriteEach(PrewarmService.PrewarmAsync(ctx, function, table, Enum.Parse<PrewarmMode>(Mode, ignoreCase: true)));
        }));
    }

    protected override void End() =>
        WriteProgress(new ProgressRecord(1, "pg_prewarm", "Done") { RecordType = ProgressRecordType.Completed });
}
