using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>Thresholds of Get-PuoMaintenanceStatus: dead-tuple share and distance to transaction-ID wraparound.</summary>
public sealed record MaintenanceThresholds(
    double DeadWarningPercent = 10, double DeadCriticalPercent = 20, long MinimumDeadTuples = 1000,
    double WraparoundWarningPercent = 50, double WraparoundCriticalPercent = 75)
{
    public void Validate()
    {
        Thresholds.Validate(DeadWarningPercent, DeadCriticalPercent);
        Thresholds.Validate(WraparoundWarningPercent, WraparoundCriticalPercent);
        if (MinimumDeadTuples < 0)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Thresholds.Invalid", $"-MinimumDeadTuples must not be negative (got {MinimumDeadTuples}).");
    }
}

/// <summary>Per table: when it was last vacuumed and analyzed, how many dead tuples wait, how old its oldest unfrozen XID is.</summary>
public static class MaintenanceStatusService
{
    /// <summary>PostgreSQL refuses new XIDs at 2^31 transactions of age (minus a small safety margin).</summary>
    private const double WraparoundLimit = 2147483648d;

    // The pg_stat_get_* functions are what pg_stat_user_tables calls; using them directly keeps the query to one scan of pg_class.
    private const string TableSql = $"""
        SELECT n.nspname, c.relname, pg_stat_get_live_tuples(c.oid), pg_stat_get_dead_tuples(c.oid),
               pg_stat_get_last_vacuum_time(c.oid), pg_stat_get_last_autovacuum_time(c.oid),
               pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid),
               pg_stat_get_vacuum_count(c.oid), pg_stat_get_autovacuum_count(c.oid),
               greatest(age(c.relfrozenxid), age(t.relfrozenxid))::int8
        FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
        WHERE c.relkind IN ('r', 'm') AND {PostgresRelations.SystemSchemaFilter}
          AND n.nspname ~* @schema AND c.relname ~* @table
        ORDER BY 4 DESC, 1, 2
        """;

    private const string DatabaseSql = "SELECT datname, age(datfrozenxid)::int8 FROM pg_database WHERE datname = current_database()";

    /// <summary>Table rows, then (when no table filter is given) the database's own wraparound row.</summary>
    public static IAsyncEnumerable<MaintenanceStatus> GetAsync(OperationContext ctx, RelationPattern pattern, MaintenanceThresholds thresholds)
    {
        thresholds.Validate();
        return PostgresConnections.StreamAsync(ctx, connection => ReadAsync(connection, ctx, pattern, thresholds));
    }

    private static async IAsyncEnumerable<MaintenanceStatus> ReadAsync(NpgsqlConnection connection, OperationContext ctx, RelationPattern pattern,
        MaintenanceThresholds thresholds)
    {
        var database = connection.Database;
        await using (var command = connection.Command(TableSql, ctx))
        {
            pattern.AddParameters(command.Parameters, "table");
            await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
            var any = false;
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            {
                any = true;
                yield return TableRow(ctx, database, reader, thresholds);
            }
            if (!any && pattern.IsLiteral)
                throw PostgresRelations.NotFound("table", pattern, ctx, "Get-PuoTableSize");
        }
        if (pattern.Schema is not null || pattern.Name is not null)
            yield break;
        await using (var command = connection.Command(DatabaseSql, ctx))
        {
            await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
            if (!await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                yield break;
            var age = reader.GetInt64(1);
            var percent = Math.Round(100 * age / WraparoundLimit, 2);
            var status = Thresholds.Classify(percent, thresholds.WraparoundWarningPercent, thresholds.WraparoundCriticalPercent);
            yield return new MaintenanceStatus
            {
                Environment = ctx.Environment.Name, Scope = "Database", Database = reader.GetString(0),
                Status = status, XidAge = age, WraparoundPercent = percent,
                Message = status == Status.OK
                    ? $"Oldest unfrozen transaction ID is {age:N0} transactions old ({percent}% of the way to wraparound)."
                    : $"Database is {percent}% of the way to transaction-ID wraparound: run Invoke-PuoVacuum on the whole database (VACUUM freezes old rows) and check for long transactions with Get-PuoSlowQuery.",
            };
        }
    }

    private static MaintenanceStatus TableRow(OperationContext ctx, string database, NpgsqlDataReader reader, MaintenanceThresholds thresholds)
    {
        var (live, dead, age) = (reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(10));
        var deadPercent = live + dead == 0 ? 0 : Math.Round(100.0 * dead / (live + dead), 1);
        var wrapPercent = Math.Round(100 * age / WraparoundLimit, 2);
        var deadStatus = dead < thresholds.MinimumDeadTuples
            ? Status.OK
            : Thresholds.Classify(deadPercent, thresholds.DeadWarningPercent, thresholds.DeadCriticalPercent);
        var wrapStatus = Thresholds.Classify(wrapPercent, thresholds.WraparoundWarningPercent, thresholds.WraparoundCriticalPercent);
        var problems = new List<string>();
        if (deadStatus != Status.OK)
            problems.Add($"{deadPercent}% dead tuples ({dead:N0}): run Invoke-PuoVacuum on it");
        if (wrapStatus != Status.OK)
            problems.Add($"{wrapPercent}% of the way to XID wraparound: VACUUM (FREEZE) it soon");
        return new MaintenanceStatus
        {
            Environment = ctx.Environment.Name, Database = database,
            Schema = reader.GetString(0), Table = reader.GetString(1),
            Status = (Status)Math.Max((int)deadStatus, (int)wrapStatus),
            LiveTuples = live, DeadTuples = dead, DeadPercent = deadPercent,
            LastVacuum = NullableTime(reader, 4), LastAutovacuum = NullableTime(reader, 5),
            LastAnalyze = NullableTime(reader, 6), LastAutoanalyze = NullableTime(reader, 7),
            VacuumCount = reader.GetInt64(8), AutovacuumCount = reader.GetInt64(9),
            XidAge = age, WraparoundPercent = wrapPercent,
            Message = problems.Count == 0 ? "OK" : string.Join("; ", problems) + ".",
        };
    }

    /// <summary>A timestamptz column as a point in time (UTC), null when NULL.</summary>
    internal static DateTimeOffset? NullableTime(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
