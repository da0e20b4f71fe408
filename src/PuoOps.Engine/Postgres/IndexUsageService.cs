using System.Text;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>Which indexes Get-PuoIndexUsage returns.</summary>
public enum IndexUsageFilter
{
    All,
    /// <summary>Never scanned, and not enforcing a primary key, uniqueness or another constraint.</summary>
    Unused,
    /// <summary>
    /// Same table, same key columns (and method, operator classes, expressions, predicate) as another index. Only valid
    /// indexes count: an invalid one enforces and serves nothing, so it is no copy of anything (<see cref="Invalid"/> lists it).
    /// </summary>
    Duplicate,
    /// <summary>indisvalid = false: a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY left it behind.</summary>
    Invalid,
}

/// <summary>
/// The runbook's "check indexes" and "identify unused indexes", with sizes, definitions and the flags that say
/// whether an unused index may be dropped at all.
/// </summary>
public static class IndexUsageService
{
    private const string FromWhere = $"""
        FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid
          JOIN pg_class t ON t.oid = x.indrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {PostgresRelations.SystemSchemaFilter}
          AND n.nspname ~* @schema AND t.relname ~* @table AND i.relname ~* @index
        """;

    // Since when idx_scan has counted. Stats survive a clean restart since PostgreSQL 15, but not a crash or
    // older versions, so the server start is taken as the conservative bound.
    private const string StatsSinceSql =
        "SELECT greatest(d.stats_reset, pg_postmaster_start_time()), now() FROM pg_stat_database d WHERE d.datname = current_database()";

    // Column names for definitions built here: pg_get_indexdef deparses each index through the catalog caches
    // and costs more than the rest of the query together on a database with thousands of indexes.
    private const string AttributeSql = $"""
        SELECT a.attrelid, a.attnum, quote_ident(a.attname)
        FROM pg_attribute a
        WHERE a.attnum > 0 AND a.attrelid IN (SELECT x.indrelid {FromWhere})
        """;

    // pg_get_indexdef is called only for what the simple builder cannot spell: expressions, predicates,
    // storage options, non-default operator classes or collations. pg_constraint has no index on conindid, so it is
    // read once into a hashed subplan (IN) rather than scanned per index (EXISTS).
    private const string IndexColumns = """
        n.nspname, t.relname, i.relname,
        pg_stat_get_numscans(i.oid), pg_stat_get_tuples_returned(i.oid), pg_stat_get_tuples_fetched(i.oid),
        i.relpages::int8 * current_setting('block_size')::int8,
        x.indisprimary, x.indisunique, x.indisvalid,
        x.indexrelid IN (SELECT conindid FROM pg_constraint),
        am.amname, x.indrelid, x.indnkeyatts, x.indkey::int2[], x.indoption::int2[], t.relkind = 'p', {0},
        CASE WHEN x.indexprs IS NOT NULL OR x.indpred IS NOT NULL OR i.reloptions IS NOT NULL
                  OR NOT (x.indclass::oid[] <@ (SELECT array_agg(oid) FROM pg_opclass WHERE opcdefault))
                  OR NOT (x.indcollation::oid[] <@ '{{0,100}}'::oid[])
             THEN pg_get_indexdef(x.indexrelid) END,
        quote_ident(n.nspname), quote_ident(t.relname), quote_ident(i.relname)
        """;

    private const string DuplicateWindow =
        "PARTITION BY x.indrelid, x.indkey::text, x.indclass::text, x.indcollation::text, x.indoption::text, i.relam, " +
        "coalesce(x.indexprs::text, ''), coalesce(x.indpred::text, '')";

    /// <param name="tables">The tables whose indexes are read.</param>
    /// <param name="indexes">The indexes, in the same schema (<see cref="RelationPattern.ParseIndexes"/>).</param>
    public static IAsyncEnumerable<IndexUsage> GetAsync(OperationContext ctx, RelationPattern tables, RelationPattern indexes,
        IndexUsageFilter filter, TimeSpan minimumStatsAge, bool force) =>
        PostgresConnections.StreamAsync(ctx, connection => ReadAsync(connection, ctx, tables, indexes, filter, minimumStatsAge, force));

    private static async IAsyncEnumerable<IndexUsage> ReadAsync(NpgsqlConnection connection, OperationContext ctx, RelationPattern tables,
        RelationPattern indexes, IndexUsageFilter filter, TimeSpan minimumStatsAge, bool force)
    {
        await using var batch = new NpgsqlBatch(connection) { Timeout = ctx.TimeoutSeconds };
        batch.BatchCommands.Add(new NpgsqlBatchCommand(StatsSinceSql));
        batch.BatchCommands.Add(WithFilters(new NpgsqlBatchCommand(AttributeSql), tables, indexes));
        batch.BatchCommands.Add(WithFilters(new NpgsqlBatchCommand(IndexSql(filter, connection.PostgreSqlVersion.Major >= 15)), tables, indexes));
        await using var reader = await batch.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);

        await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false);
        DateTimeOffset? statsSince = reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0);
        var statsAge = statsSince is { } since ? reader.GetFieldValue<DateTimeOffset>(1) - since : TimeSpan.Zero;
        // Young counters make every index look unused. Listing is harmless (the answer only feeds a decision), so
        // the caller is warned with the age instead of refused; each row carries StatsAge for a script to check.
        if (filter == IndexUsageFilter.Unused && statsAge < minimumStatsAge && !force)
            ctx.Warn($"Index statistics on {PostgresConnections.Endpoint(ctx).DisplayName} only cover {Units.Duration(statsAge)} (since {statsSince:u}): " +
                $"after a restart or a stats reset every index looks unused, so an index listed here may be in use. Trust the list once they cover " +
                $"-MinimumStatsAge ({Units.Duration(minimumStatsAge)}); -Force leaves out this warning.");

        await reader.NextResultAsync(ctx.Cancellation).ConfigureAwait(false);
        var columns = new Dictionary<(uint Table, short Number), string>();
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            columns[(reader.GetFieldValue<uint>(0), reader.GetInt16(1))] = reader.GetString(2);

        await reader.NextResultAsync(ctx.Cancellation).ConfigureAwait(false);
        var any = false;
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            any = true;
            var bytes = reader.GetInt64(6);
            yield return new IndexUsage
            {
                Environment = ctx.Environment.Name,
                Schema = reader.GetString(0), Table = reader.GetString(1), Index = reader.GetString(2),
                Scans = reader.GetInt64(3), TuplesRead = reader.GetInt64(4), TuplesFetched = reader.GetInt64(5),
                SizeBytes = bytes,
                IsPrimary = reader.GetBoolean(7), IsUnique = reader.GetBoolean(8), IsValid = reader.GetBoolean(9), IsConstraint = reader.GetBoolean(10),
                AccessMethod = reader.GetString(11),
                Definition = reader.IsDBNull(18) ? BuildDefinition(reader, columns) : reader.GetString(18),
                StatsSince = statsSince, StatsAge = statsAge,
                DuplicateOf = filter == IndexUsageFilter.Duplicate
                    ? reader.GetFieldValue<string[]>(23).Where(name => name != reader.GetString(2)).Order(StringComparer.Ordinal).ToArray()
                    : [],
            };
        }
        if (!any && filter == IndexUsageFilter.All && indexes.IsLiteral)
            throw PostgresRelations.NotFound("index", indexes, ctx, "Get-PuoIndexUsage");
    }

    private static string IndexSql(IndexUsageFilter filter, bool hasNullsNotDistinct)
    {
        var columns = string.Format(IndexColumns, hasNullsNotDistinct ? "x.indnullsnotdistinct" : "false");
        var from = FromWhere.Replace("JOIN pg_namespace n ON n.oid = t.relnamespace",
            "JOIN pg_namespace n ON n.oid = t.relnamespace\n  JOIN pg_am am ON am.oid = i.relam");
        const string order = "ORDER BY 4, 7 DESC, 1, 2, 3";
        return filter switch
        {
            IndexUsageFilter.Unused => $"SELECT {columns} {from} AND pg_stat_get_numscans(i.oid) = 0 AND NOT x.indisprimary AND NOT x.indisunique " +
                                       $"AND x.indexrelid NOT IN (SELECT conindid FROM pg_constraint) ORDER BY 7 DESC, 1, 2, 3",
            IndexUsageFilter.Invalid => $"SELECT {columns} {from} AND NOT x.indisvalid {order}",
            IndexUsageFilter.Duplicate => $"""
                SELECT * FROM (SELECT {columns}, count(*) OVER w AS copies, array_agg(i.relname::text) OVER w AS names {from} AND x.indisvalid
                  WINDOW w AS ({DuplicateWindow})) d
                WHERE copies > 1 ORDER BY 2, 1, 3
                """,
            _ => $"SELECT {columns} {from} {order}",
        };
    }

    private static NpgsqlBatchCommand WithFilters(NpgsqlBatchCommand command, RelationPattern tables, RelationPattern indexes)
    {
        tables.AddParameters(command.Parameters, "table");
        command.Parameters.AddWithValue("index", (indexes.Name ?? NamePattern.Any).Regex);
        return command;
    }

    /// <summary>
    /// Spells the definition exactly as pg_get_indexdef does, for indexes on plain columns with default
    /// operator classes (the query falls back to pg_get_indexdef for everything else).
    /// </summary>
    private static string BuildDefinition(NpgsqlDataReader reader, Dictionary<(uint, short), string> columns)
    {
        var (accessMethod, table, keyCount) = (reader.GetString(11), reader.GetFieldValue<uint>(12), reader.GetInt16(13));
        var (keys, options) = (reader.GetFieldValue<short[]>(14), reader.GetFieldValue<short[]>(15));
        var sql = new StringBuilder("CREATE ");
        if (reader.GetBoolean(8))
            sql.Append("UNIQUE ");
        sql.Append("INDEX ").Append(reader.GetString(21)).Append(" ON ").Append(reader.GetBoolean(16) ? "ONLY " : "")
            .Append(reader.GetString(19)).Append('.').Append(reader.GetString(20)).Append(" USING ").Append(accessMethod).Append(" (");
        for (var k = 0; k < keys.Length; k++)
        {
            if (k == keyCount)
                sql.Append(") INCLUDE (");
            else if (k > 0)
                sql.Append(", ");
            sql.Append(columns.TryGetValue((table, keys[k]), out var name) ? name : "?");
            if (k < keyCount && accessMethod == "btree")
                sql.Append(OrderOption(options[k]));
        }
        sql.Append(')');
        if (reader.GetBoolean(17))
            sql.Append(" NULLS NOT DISTINCT");
        return sql.ToString();
    }

    // indoption bits (INDOPTION_DESC = 1, INDOPTION_NULLS_FIRST = 2), printed only where they differ from the default.
    private static string OrderOption(short option) => (option & 1) != 0
        ? ((option & 2) != 0 ? " DESC" : " DESC NULLS LAST")
        : ((option & 2) != 0 ? " NULLS FIRST" : "");
}
