using System.Net;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Security;

/// <summary>Which audit_logs rows Get-PuoAuditLog reads; an empty list or null means no condition.</summary>
public sealed class AuditLogQuery
{
    public DateTimeOffset? Since { get; init; }
    public DateTimeOffset? Until { get; init; }
    public IReadOnlyList<NamePattern> Actions { get; init; } = [];
    public IReadOnlyList<NamePattern> Users { get; init; } = [];
    public IReadOnlyList<IPNetwork> Networks { get; init; } = [];
}

/// <summary>
/// The runbook's incident queries: audit_logs by action, time, user and address (<c>action LIKE '%auth%' AND
/// created_at &gt; NOW() - INTERVAL '1 hour'</c> is <c>-Action *auth* -Since 1h</c>), and the users whose memories
/// changed since an incident. Every value is a parameter; rows stream as the server sends them.
/// </summary>
public static class AuditLogService
{
    public static async IAsyncEnumerable<AuditLogEntry> GetAsync(OperationContext ctx, AuditLogQuery query, Page page,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
        await using var command = connection.Command("", ctx);
        command.CommandText = $"""
            SELECT id, created_at, user_id, action, abbrev(ip_address), details::text
            FROM audit_logs {Where(command, query)}
            ORDER BY created_at, id
            LIMIT @first OFFSET @skip
            """;
        AddPage(command, page);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            yield return new AuditLogEntry
            {
                Environment = ctx.Environment.Name,
                Id = reader.GetInt64(0),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(1),
                UserId = reader.IsDBNull(2) ? null : reader.GetString(2),
                Action = reader.GetString(3),
                IpAddress = reader.IsDBNull(4) ? null : reader.GetString(4),
                Details = reader.IsDBNull(5) ? null : reader.GetString(5),
            };
        }
    }

    /// <summary>How many rows <paramref name="query"/> matches, for -IncludeTotalCount.</summary>
    public static async Task<long> CountAsync(OperationContext ctx, AuditLogQuery query)
    {
        await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
        await using var command = connection.Command("", ctx);
        command.CommandText = $"SELECT count(*) FROM audit_logs {Where(command, query)}";
        return (long)(await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false))!;
    }

    /// <summary>The runbook's <c>SELECT DISTINCT user_id FROM memories WHERE updated_at &gt; 'INCIDENT_TIME'</c>, with counts and times.</summary>
    public static async IAsyncEnumerable<AffectedUser> GetAffectedUsersAsync(OperationContext ctx, DateTimeOffset since, DateTimeOffset? until, Page page,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
        await using var command = connection.Command($"""
            SELECT user_id, count(*), min(updated_at), max(updated_at)
            FROM memories
            WHERE updated_at > @since{(until is null ? "" : " AND updated_at <= @until")}
            GROUP BY user_id
            ORDER BY user_id
            LIMIT @first OFFSET @skip
            """, ctx);
        command.Parameters.AddWithValue("since", NpgsqlDbType.TimestampTz, since.UtcDateTime);
        if (until is { } u)
            command.Parameters.AddWithValue("until", NpgsqlDbType.TimestampTz, u.UtcDateTime);
        AddPage(command, page);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            yield return new AffectedUser
            {
                Environment = ctx.Environment.Name,
                UserId = reader.IsDBNull(0) ? "" : reader.GetString(0),
                Rows = reader.GetInt64(1),
                FirstChange = reader.GetFieldValue<DateTimeOffset>(2),
                LastChange = reader.GetFieldValue<DateTimeOffset>(3),
            };
        }
    }

    /// <summary>The WHERE clause of <paramref name="query"/>, its values added to <paramref name="command"/> as parameters.</summary>
    private static string Where(NpgsqlCommand command, AuditLogQuery query)
    {
        var conditions = new List<string>();
        if (query.Since is { } since)
        {
            conditions.Add("created_at > @since");
            command.Parameters.AddWithValue("since", NpgsqlDbType.TimestampTz, since.UtcDateTime);
        }
        if (query.Until is { } until)
        {
            conditions.Add("created_at <= @until");
            command.Parameters.AddWithValue("until", NpgsqlDbType.TimestampTz, until.UtcDateTime);
        }
        if (query.Actions.Count > 0)
        {
            conditions.Add("action ~* ANY(@actions)");
            command.Parameters.AddWithValue("actions", query.Actions.Select(p => p.Regex).ToArray());
        }
        if (query.Users.Count > 0)
        {
            conditions.Add("user_id ~* ANY(@users)");
            command.Parameters.AddWithValue("users", query.Users.Select(p => p.Regex).ToArray());
        }
        if (query.Networks.Count > 0)
        {
            conditions.Add("ip_address <<= ANY(@networks::inet[])");
            command.Parameters.AddWithValue("networks", query.Networks.Select(n => n.ToString()).ToArray());
        }
        return conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions);
    }

    private static void AddPage(NpgsqlCommand command, Page page)
    {
        command.Parameters.AddWithValue("skip", page.Skip);
        command.Parameters.Add(new NpgsqlParameter("first", NpgsqlDbType.Bigint) { Value = page.First is { } first ? first : DBNull.Value });
    }
}
