using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>
/// What Invoke-PuoVacuum, Invoke-PuoAnalyze and Invoke-PuoPrewarm share: -Table and -Schema (typed, patterns;
/// piped from Get-PuoTableSize or Get-PuoMaintenanceStatus, exactly the record's table), and the rule that a
/// piped record naming no table is an error, never "every table".
/// </summary>
public abstract class TableMaintenanceCommand : PuoCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[]? Table { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    public string? Schema { get; set; }

    /// <summary>True when -Table names tables; false when it was not given.</summary>
    protected bool HasTables => Table is { Length: > 0 };

    /// <summary>
    /// True (after writing an InvalidArgument error) when this record came down the pipeline without a table,
    /// such as the database row of Get-PuoMaintenanceStatus: only a typed command may mean the whole database.
    /// </summary>
    protected bool PipedWithoutTable()
    {
        if (HasTables || !MyInvocation.ExpectingInput)
            return false;
        WriteItemError(new PuoException(ErrorKind.InvalidArgument, "PuoOps.Postgres.NoTableInRecord",
            $"The piped record names no table (Schema '{Schema}', Table empty), so {MyInvocation.MyCommand.Name} did nothing for it. " +
            $"To work on the whole database, run {MyInvocation.MyCommand.Name} without pipeline input; to pick tables, filter the records first (Where-Object Table)."));
        return true;
    }

    /// <summary>Resolves each of <paramref name="names"/> (-Table's values) and runs <paramref name="body"/> for each table, with its position and the count; failures are per item.</summary>
    protected void ForEachSelectedTable(OperationContext ctx, IEnumerable<string> names, Action<TableTarget, int, int> body) =>
        ForEachItem(names, name => ForEachTableOf(Await(PostgresRelations.ResolveTablesAsync(ctx,
            RelationPattern.Parse(PatternText(Schema, nameof(Schema)), PatternText(name, nameof(Table))))), body));

    /// <summary>Runs <paramref name="body"/> for each table with its position and the count; failures are per item.</summary>
    protected void ForEachTableOf(IReadOnlyList<TableTarget> tables, Action<TableTarget, int, int> body)
    {
        var position = 0;
        ForEachItem(tables, table => body(table, position++, tables.Count));
    }
}
