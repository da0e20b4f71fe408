using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>The runbook's "check table sizes" query, split into heap, index and TOAST bytes.</summary>
public static class TableSizeService
{
    // Each size function stats the relation's files, so every size is computed once: the total is
    // table + indexes rather than a second pg_total_relation_size call. A table dropped after the catalog was read
    // has NULL sizes: it is gone, so it is left out.
    private const string Sql = $"""
        SELECT schema, name, table_bytes - toast_bytes, index_bytes, toast_bytes, table_bytes + index_bytes, reltuples
        FROM (SELECT n.nspname AS schema, c.relname AS name, c.reltuples::int8 AS reltuples,
                     pg_table_size(c.oid) AS table_bytes, pg_indexes_size(c.oid) AS index_bytes,
                     CASE WHEN c.reltoastrelid = 0 THEN 0 ELSE pg_total_relation_size(c.reltoastrelid) END AS toast_bytes
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm', 'p') AND {PostgresRelations.SystemSchemaFilter}
                AND n.nspname ~* @schema AND c.relname ~* @table) s
        WHERE table_bytes IS NOT NULL AND index_bytes IS NOT NULL AND toast_bytes IS NOT NULL
        ORDER BY 6 DESC, 1, 2
        LIMIT @limit
        """;

    /// <summary>The tables <paramref name="pattern"/> selects, largest first; at most <paramref name="limit"/> when given.</summary>
    public static IAsyncEnumerable<TableSize> GetAsync(OperationContext ctx, RelationPattern pattern, long? limit) =>
        PostgresConnections.StreamAsync(ctx, connection => ReadAsync(connection, ctx, pattern, limit));

    private static async IAsyncEnumerable<TableSize> ReadAsync(NpgsqlConnection connection, OperationContext ctx, RelationPattern pattern, long? limit)
    {
        await using var command = connection.Command(Sql, ctx);
        pattern.AddParameters(command.Parameters, "table");
        command.Parameters.AddWithValue("limit", (object?)limit ?? DBNull.Value).NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint;
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        var any = false;
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            any = true;
            yield return new TableSize
            {
                Environment = ctx.Environment.Name,
                Schema = reader.GetString(0),
                Table = reader.GetString(1),
                TableBytes = reader.GetInt64(2),
                IndexBytes = reader.GetInt64(3),
                ToastBytes = reader.GetInt64(4),
                TotalBytes = reader.GetInt64(5),
                EstimatedRows = reader.GetInt64(6),
            };
        }
        if (!any && pattern.IsLiteral)
            throw PostgresRelations.NotFound("table", pattern, ctx, "Get-PuoTableSize");
    }
}
