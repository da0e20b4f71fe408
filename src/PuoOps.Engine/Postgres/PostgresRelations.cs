using System.Globalization;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>A table as the catalog names it, resolved from what the operator typed.</summary>
public sealed record TableTarget(string Schema, string Name)
{
    /// <summary>The quoted, schema-qualified name: the only form that is ever put into a statement.</summary>
    public string Quoted => SqlQuote.Identifier(Schema, Name);

    public override string ToString() => Schema + "." + Name;
}

/// <summary>An index as the catalog names it, with its table.</summary>
public sealed record IndexTarget(string Schema, string Table, string Name, long SizeBytes)
{
    public string Quoted => SqlQuote.Identifier(Schema, Name);

    public override string ToString() => Schema + "." + Name;
}

/// <summary>
/// Turns names and wildcards typed by an operator into catalog objects. Names only ever reach the server as
/// parameters of a catalog lookup; statements that cannot take parameters (VACUUM, REINDEX, ANALYZE) use the
/// catalog's own spelling, quoted. So a hostile name is a name that does not exist, never SQL.
/// </summary>
public static class PostgresRelations
{
    /// <summary>Schemas that hold no application data; skipped unless the operator names them.</summary>
    internal const string SystemSchemaFilter =
        "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";

    /// <summary>
    /// The tables <paramref name="pattern"/> selects. Without a schema only application schemas are searched.
    /// A name without wildcards that matches nothing is NotFound.
    /// </summary>
    public static Task<IReadOnlyList<TableTarget>> ResolveTablesAsync(OperationContext ctx, RelationPattern pattern) =>
        PostgresConnections.ReadAsync(ctx, connection => ResolveTablesAsync(connection, ctx, pattern, includeSystem: false));

    /// <summary>Every table VACUUM or ANALYZE without a table list would process: system catalogs included.</summary>
    public static Task<IReadOnlyList<TableTarget>> AllTablesAsync(OperationContext ctx) =>
        PostgresConnections.ReadAsync(ctx, connection => ResolveTablesAsync(connection, ctx, RelationPattern.All, includeSystem: true));

    private static async Task<IReadOnlyList<TableTarget>> ResolveTablesAsync(NpgsqlConnection connection, OperationContext ctx,
        RelationPattern pattern, bool includeSystem)
    {
        var systemFilter = includeSystem || pattern.Schema is not null ? "n.nspname NOT IN ('pg_toast')" : SystemSchemaFilter;
        await using var command = connection.Command($"""
            SELECT n.nspname, c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm', 'p') AND c.relpersistence <> 't' AND {systemFilter}
              AND n.nspname ~* @schema AND c.relname ~* @table
            ORDER BY 1, 2
            """, ctx);
        pattern.AddParameters(command.Parameters, "table");
        var found = new List<TableTarget>();
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                found.Add(new TableTarget(reader.GetString(0), reader.GetString(1)));
        if (found.Count == 0 && pattern.IsLiteral)
            throw NotFound("table", pattern, ctx, "Get-PuoTableSize");
        return found;
    }

    /// <summary>The indexes <paramref name="pattern"/> selects, with their current size.</summary>
    public static Task<IReadOnlyList<IndexTarget>> ResolveIndexesAsync(OperationContext ctx, RelationPattern pattern) =>
        PostgresConnections.ReadAsync(ctx, connection => ResolveIndexesAsync(connection, ctx, pattern));

    private static async Task<IReadOnlyList<IndexTarget>> ResolveIndexesAsync(NpgsqlConnection connection, OperationContext ctx, RelationPattern pattern)
    {
        await using var command = connection.Command($"""
            SELECT n.nspname, t.relname, i.relname, pg_relation_size(i.oid)
            FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_namespace n ON n.oid = i.relnamespace
            WHERE {(pattern.Schema is null ? SystemSchemaFilter : "true")}
              AND n.nspname ~* @schema AND i.relname ~* @index
            ORDER BY 1, 3
            """, ctx);
        pattern.AddParameters(command.Parameters, "index");
        var found = new List<IndexTarget>();
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                found.Add(new IndexTarget(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
        if (found.Count == 0 && pattern.IsLiteral)
            throw NotFound("index", pattern, ctx, "Get-PuoIndexUsage");
        return found;
    }

    /// <summary>SET lock_timeout for the session (the pool's DISCARD ALL undoes it when the connection goes back).</summary>
    internal static async Task SetLockTimeoutAsync(NpgsqlConnection connection, OperationContext ctx, TimeSpan lockTimeout)
    {
        await using var command = connection.Command("SELECT set_config('lock_timeout', @value, false)", ctx);
        command.Parameters.AddWithValue("value", ((long)Math.Ceiling(lockTimeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms");
        await command.ExecuteNonQueryAsync(ctx.Cancellation).ConfigureAwait(false);
    }

    /// <summary>InvalidArgument unless the lock timeout is a positive, finite time (0 would mean "wait forever").</summary>
    public static void ValidateLockTimeout(TimeSpan lockTimeout)
    {
        if (lockTimeout < TimeSpan.FromMilliseconds(1) || lockTimeout > TimeSpan.FromDays(1))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Postgres.LockTimeout",
                $"-LockTimeout must be between 1 ms and 1 day (got {lockTimeout}); 0 would wait forever. Example: -LockTimeout 00:00:30.", lockTimeout);
    }

    /// <summary>ObjectNotFound for a name without wildcards that matched nothing (a wildcard that matches nothing just returns nothing).</summary>
    internal static PuoException NotFound(string kind, RelationPattern pattern, OperationContext ctx, string listWith) =>
        new(ErrorKind.NotFound, "PuoOps.Postgres.ObjectNotFound",
            $"No {kind} named '{pattern}' on {PostgresConnections.Endpoint(ctx).DisplayName}. List what exists with {listWith}.",
            pattern.ToString());

    internal static PuoException NotFound(string kind, string schema, string name, OperationContext ctx, string listWith) =>
        NotFound(kind, RelationPattern.Exact(schema, name), ctx, listWith);
}
