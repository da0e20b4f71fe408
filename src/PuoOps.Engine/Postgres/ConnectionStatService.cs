using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>The runbook's "count(*) FROM pg_stat_activity; SHOW max_connections", with the breakdown that explains it.</summary>
public static class ConnectionStatService
{
    private const string Sql = """
        SELECT coalesce(state, 'unknown'), coalesce(usename, ''), coalesce(nullif(application_name, ''), '(none)'), count(*),
               max(now() - state_change) FILTER (WHERE state LIKE 'idle in transaction%'),
               current_setting('max_connections')::int,
               current_setting('superuser_reserved_connections')::int
                 + coalesce(current_setting('reserved_connections', true)::int, 0)
        FROM pg_stat_activity
        WHERE backend_type = 'client backend'
        GROUP BY 1, 2, 3
        """;

    public static async Task<ConnectionStat> GetAsync(OperationContext ctx, double warningPercent, double criticalPercent)
    {
        Thresholds.Validate(warningPercent, criticalPercent);
        return await PostgresConnections.ReadAsync(ctx, connection => ReadAsync(connection, ctx, warningPercent, criticalPercent)).ConfigureAwait(false);
    }

    private static async Task<ConnectionStat> ReadAsync(NpgsqlConnection connection, OperationContext ctx, double warningPercent, double criticalPercent)
    {
        await using var command = connection.Command(Sql, ctx);
        var byState = new Dictionary<string, long>();
        var byUser = new Dictionary<string, long>();
        var byApplication = new Dictionary<string, long>();
        TimeSpan? oldestIdle = null;
        long max = 0, reserved = 0;
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            {
                var count = reader.GetInt64(3);
                Add(byState, reader.GetString(0), count);
                Add(byUser, reader.GetString(1), count);
                Add(byApplication, reader.GetString(2), count);
                if (!reader.IsDBNull(4) && (oldestIdle is null || reader.GetTimeSpan(4) > oldestIdle))
                    oldestIdle = reader.GetTimeSpan(4);
                (max, reserved) = (reader.GetInt32(5), reader.GetInt32(6));
            }
        }
        var total = byState.Values.Sum();
        var available = Math.Max(1L, max - reserved);
        var usedPercent = Math.Round(100.0 * total / available, 1);
        return new ConnectionStat
        {
            Environment = ctx.Environment.Name,
            Status = Thresholds.Classify(usedPercent, warningPercent, criticalPercent),
            Total = total,
            MaxConnections = max,
            ReservedConnections = reserved,
            Available = available,
            UsedPercent = usedPercent,
            Active = byState.GetValueOrDefault("active"),
            Idle = byState.GetValueOrDefault("idle"),
            IdleInTransaction = byState.Where(p => p.Key.StartsWith("idle in transaction", StringComparison.Ordinal)).Sum(p => p.Value),
            OldestIdleInTransaction = oldestIdle,
            ByState = byState,
            ByUser = byUser,
            ByApplication = byApplication,
        };
    }

    private static void Add(Dictionary<string, long> counts, string key, long count) => counts[key] = counts.GetValueOrDefault(key) + count;
}
