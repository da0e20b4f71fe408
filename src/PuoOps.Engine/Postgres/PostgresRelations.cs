using System.Globalization;
using System.Text;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>A table as the catalog names it, resolved from what the operator typed.</summary>
public sealed record TableTarget(string Schema, string Name)
{
    /// <summary>The quoted, schema-qualified name: the only form that is ever put into a statement.</summary>
    public string Quoted => PostgresRelations.QuoteIdentifier(Schema) + "." + PostgresRelations.QuoteIdentifier(Name);

    public override string ToString() => Schema + "." + Name;
}

/// <summary>An index as the catalog names it, with its table.</summary>
public sealed record IndexTarget(string Schema, string Table, string Name, long SizeBytes)
{
    public string Quoted => PostgresRelations.QuoteIdentifier(Schema) + "." + PostgresRelations.QuoteIdentifier(Name);

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

    public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    public static bool HasWildcard(string? pattern) =>
        pattern is not null && pattern.Replace("`*", "").Replace("`?", "").IndexOfAny(['*', '?']) >= 0;

    /// <summary>A PowerShell-style wildcard (* and ?, backtick escapes) as a LIKE pattern with backslash escapes; null means "any".</summary>
    public static string ToLike(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern))
            return "%";
        var like = new StringBuilder(pattern.Length + 4);
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '`' && i + 1 < pattern.Length)
            {
                AppendLiteral(like, pattern[++i]);
                continue;
            }
            if (c == '*') like.Append('%');
            else if (c == '?') like.Append('_');
            else AppendLiteral(like, c);
        }
        return like.ToString();

        static void AppendLiteral(StringBuilder sb, char c)
        {
            if (c is '%' or '_' or '\\')
                sb.Append('\\');
            sb.Append(c);
        }
    }

    /// <summary>
    /// The tables matching <paramref name="schema"/>.<paramref name="table"/> (wildcards allowed). Without a
    /// schema only application schemas are searched. A name without wildcards that matches nothing is NotFound.
    /// </summary>
    public static Task<IReadOnlyList<TableTarget>> ResolveTablesAsync(OperationContext ctx, string? schema, string? table) =>
        PostgresConnections.ReadAsync(ctx, connection => ResolveTablesAsync(connection, ctx, schema, table, includeSystem: false));

    /// <summary>Every table VACUUM or ANALYZE without a table list would process: system catalogs included.</summary>
    public static Task<IReadOnlyList<TableTarget>> AllTablesAsync(OperationContext ctx) =>
        PostgresConnections.ReadAsync(ctx, connection => ResolveTablesAsync(connection, ctx, null, null, includeSystem: true));

    internal static async Task<IReadOnlyList<TableTarget>> ResolveTablesAsync(NpgsqlConnection connection, OperationContext ctx,
        string? schema, string? table, bool includeSystem)
    {
        var systemFilter = includeSystem || !string.IsNullOrEmpty(schema) ? "n.nspname NOT IN ('pg_toast')" : SystemSchemaFilter;
        await using var command = connection.Command($"""
            SELECT n.nspname, c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm', 'p') AND c.relpersistence <> 't' AND {systemFilter}
              AND n.nspname LIKE @schema AND c.relname LIKE @table
            ORDER BY 1, 2
            """, ctx);
        command.Parameters.AddWithValue("schema", ToLike(schema));
        command.Parameters.AddWithValue("table", ToLike(table));
        var found = new List<TableTarget>();
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                found.Add(new TableTarget(reader.GetString(0), reader.GetString(1)));
        if (found.Count == 0 && !HasWildcard(table) && !string.IsNullOrEmpty(table) && !HasWildcard(schema))
            throw NotFound("table", schema, table!, ctx, "Get-PuoTableSize");
        return found;
    }

    /// <summary>The indexes matching <paramref name="schema"/>.<paramref name="index"/>, with their current size.</summary>
    public static Task<IReadOnlyList<IndexTarget>> ResolveIndexesAsync(OperationContext ctx, string? schema, string index) =>
        PostgresConnections.ReadAsync(ctx, connection => ResolveIndexesAsync(connection, ctx, schema, index));

    private static async Task<IReadOnlyList<IndexTarget>> ResolveIndexesAsync(NpgsqlConnection connection, OperationContext ctx, string? schema, string index)
    {
        await using var command = connection.Command($"""
            SELECT n.nspname, t.relname, i.relname, pg_relation_size(i.oid)
            FROM pg_index x
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_namespace n ON n.oid = i.relnamespace
            WHERE {(string.IsNullOrEmpty(schema) ? SystemSchemaFilter : "true")}
              AND n.nspname LIKE @schema AND i.relname LIKE @index
            ORDER BY 1, 3
            """, ctx);
        command.Parameters.AddWithValue("schema", ToLike(schema));
        command.Parameters.AddWithValue("index", ToLike(index));
        var found = new List<IndexTarget>();
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                found.Add(new IndexTarget(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
        if (found.Count == 0 && !HasWildcard(index) && !HasWildcard(schema))
            throw NotFound("index", schema, index, ctx, "Get-PuoIndexUsage");
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

    internal static PuoException NotFound(string kind, string? schema, string name, OperationContext ctx, string listWith) =>
        new(ErrorKind.NotFound, "PuoOps.Postgres.ObjectNotFound",
            $"No {kind} named '{(string.IsNullOrEmpty(schema) ? "" : schema + ".")}{name}' on {PostgresConnections.Endpoint(ctx).DisplayName}. List what exists with {listWith}.",
            name);
}
