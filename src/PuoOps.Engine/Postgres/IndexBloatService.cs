using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>
/// Estimated B-tree bloat from the catalog and the planner statistics (the widely used estimate behind
/// check_postgres and ioguix's queries): the pages a fresh index of the same rows would need, against the
/// pages it has. Cheap and lock-free; exact figures would need pgstattuple, which reads the whole index.
/// </summary>
public static class IndexBloatService
{
    private const int PageHeaderBytes = 24;
    private const int BtreeOpaqueBytes = 16;
    private const int ItemPointerBytes = 4;
    private const int MaxAlign = 8;

    private const string Sql = $"""
        SELECT n.nspname, t.relname, i.relname, i.relpages::int8, i.reltuples::float8, current_setting('block_size')::int,
               coalesce((SELECT substring(o FROM 'fillfactor=([0-9]+)')::int FROM unnest(i.reloptions) o WHERE o LIKE 'fillfactor=%'), 90),
               w.width, w.has_nulls, w.missing, has_table_privilege(t.oid, 'SELECT')
        FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid
          JOIN pg_class t ON t.oid = x.indrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
          JOIN pg_am am ON am.oid = i.relam
          CROSS JOIN LATERAL (
            SELECT sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 0))::float8 AS width,
                   coalesce(max(s.null_frac), 0) > 0 AS has_nulls,
                   count(*) FILTER (WHERE s.avg_width IS NULL)::int AS missing
            FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, pos)
              JOIN pg_attribute a ON a.attrelid = CASE WHEN k.attnum = 0 THEN x.indexrelid ELSE x.indrelid END
                                 AND a.attnum = CASE WHEN k.attnum = 0 THEN k.pos::int2 ELSE k.attnum END
              LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND NOT s.inherited AND s.attname = a.attname
                                  AND s.tablename = CASE WHEN k.attnum = 0 THEN i.relname ELSE t.relname END) w
        WHERE am.amname = 'btree' AND {PostgresRelations.SystemSchemaFilter}
          AND n.nspname LIKE @schema AND t.relname LIKE @table AND i.relname LIKE @index
        """;

    /// <summary>Every matching B-tree index, most wasted bytes first.</summary>
    public static async Task<IReadOnlyList<IndexBloat>> GetAsync(OperationContext ctx, string? schema, string? table, string? index,
        double warningPercent, double criticalPercent)
    {
        Thresholds.Validate(warningPercent, criticalPercent);
        return await PostgresConnections.ReadAsync(ctx, connection => ReadAsync(connection, ctx, schema, table, index, warningPercent, criticalPercent))
            .ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<IndexBloat>> ReadAsync(NpgsqlConnection connection, OperationContext ctx, string? schema, string? table,
        string? index, double warningPercent, double criticalPercent)
    {
        await using var command = connection.Command(Sql, ctx);
        command.Parameters.AddWithValue("schema", PostgresRelations.ToLike(schema));
        command.Parameters.AddWithValue("table", PostgresRelations.ToLike(table));
        command.Parameters.AddWithValue("index", PostgresRelations.ToLike(index));
        var found = new List<IndexBloat>();
        var hidden = new SortedSet<string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            {
                var (pages, tuples, blockSize, fillFactor) = (reader.GetInt64(3), reader.GetDouble(4), reader.GetInt32(5), reader.GetInt32(6));
                var hasStats = reader.GetInt32(9) == 0 && tuples >= 0;
                // pg_stats shows a table's statistics only to roles that may SELECT from it (pg_monitor is not enough).
                if (!hasStats && !reader.GetBoolean(10))
                    hidden.Add(reader.GetString(0) + "." + reader.GetString(1));
                var expectedPages = hasStats
                    ? ExpectedPages(tuples, reader.IsDBNull(7) ? 0 : reader.GetDouble(7), reader.GetBoolean(8), blockSize, fillFactor)
                    : pages;
                var bloatPages = Math.Max(0, pages - expectedPages);
                var percent = pages == 0 ? 0 : Math.Round(100.0 * bloatPages / pages, 1);
                found.Add(new IndexBloat
                {
                    Environment = ctx.Environment.Name,
                    Schema = reader.GetString(0), Table = reader.GetString(1), Index = reader.GetString(2),
                    SizeBytes = pages * blockSize, Size = IndexUsageService.FormatBytes(pages * blockSize),
                    ExpectedBytes = expectedPages * blockSize, BloatBytes = bloatPages * blockSize, BloatPercent = percent,
                    FillFactor = fillFactor,
                    // Without planner statistics (never analyzed) there is nothing to estimate from.
                    Status = hasStats ? Thresholds.Classify(percent, warningPercent, criticalPercent) : Status.Unknown,
                });
            }
        }
        if (found.Count == 0 && !string.IsNullOrEmpty(index) && !PostgresRelations.HasWildcard(index) && !PostgresRelations.HasWildcard(schema))
            throw PostgresRelations.NotFound("B-tree index", schema, index, ctx, "Get-PuoIndexUsage");
        if (hidden.Count > 0)
            ctx.Warn($"The role may not read the planner statistics of {hidden.Count} table(s) ({string.Join(", ", hidden)}): PostgreSQL shows them only " +
                     "to roles with SELECT on the table, so the bloat of their indexes is Unknown. Grant SELECT (or pg_read_all_data), or run as the owner.");
        return found.OrderByDescending(b => b.BloatBytes).ThenBy(b => b.Schema).ThenBy(b => b.Index).ToList();
    }

    /// <summary>Leaf pages for <paramref name="tuples"/> entries of the average width at the fill factor, plus the meta page.</summary>
    internal static long ExpectedPages(double tuples, double dataWidth, bool hasNulls, int blockSize, int fillFactor)
    {
        // IndexTupleData is 8 bytes, plus a null bitmap when a key column has nulls; header and data are each MAXALIGNed.
        var header = AlignUp(hasNulls ? 8 + 4 : 8);
        var tupleBytes = ItemPointerBytes + header + AlignUp(Math.Ceiling(dataWidth));
        var perPage = Math.Floor((blockSize - PageHeaderBytes - BtreeOpaqueBytes) * fillFactor / 100.0 / tupleBytes);
        return 1 + (long)Math.Ceiling(tuples / Math.Max(1, perPage));
    }

    private static double AlignUp(double bytes) => Math.Ceiling(bytes / MaxAlign) * MaxAlign;
}
