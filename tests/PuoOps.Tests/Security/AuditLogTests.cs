using Npgsql;
using NpgsqlTypes;
using PuoOps.Engine;
using PuoOps.Engine.Security;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Security;

/// <summary>
/// Get-PuoAuditLog and Get-PuoAffectedUser against the seeded sandbox database, compared with the runbook's own SQL.
/// Rows of this class's own (its user ids, an address block of its own, times a month ahead) are removed at the end.
/// </summary>
public sealed class AuditLogTests : IAsyncLifetime
{
    private readonly string _tag = "xunit_audit_" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _net = $"100.64.{Random.Shared.Next(1, 250)}.0/24";
    private readonly PuoEnvironment _environment = TestEnvironments.Sandbox();
    private NpgsqlConnection _db = null!;

    /// <summary>An incident time a month ahead, after every seeded change, in whole seconds.</summary>
    private readonly DateTimeOffset _incident = new DateTimeOffset(DateTime.UtcNow.Date, TimeSpan.Zero).AddDays(30);

    public async Task InitializeAsync()
    {
        _db = new NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await _db.OpenAsync();
    }

    public async Task DisposeAsync()
    {
        await Exec("DELETE FROM audit_logs WHERE user_id LIKE @tag || '%'; DELETE FROM memories WHERE user_id LIKE @tag || '%'");
        await _db.DisposeAsync();
        _environment.Dispose();
    }

    [Fact]
    public async Task The_runbook_query_returns_exactly_the_rows_of_the_runbook_SQL()
    {
        var since = DateTimeOffset.UtcNow.AddHours(-1);
        var expected = new List<long>();
        await using (var command = new NpgsqlCommand(
            "SELECT id FROM audit_logs WHERE action LIKE '%auth%' AND created_at > @since ORDER BY created_at, id", _db))
        {
            command.Parameters.AddWithValue("since", NpgsqlDbType.TimestampTz, since.UtcDateTime);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                expected.Add(reader.GetInt64(0));
        }

        var rows = await Read(new AuditLogQuery { Since = since, Actions = [NamePattern.Parse("*auth*")] });

        Assert.True(expected.Count >= 650, $"the sandbox seeds 650 auth rows in the last hour, found {expected.Count}");
        Assert.Equal(expected, rows.Select(r => r.Id));
        Assert.All(rows, r => Assert.Contains("auth", r.Action));
    }

    [Fact]
    public async Task Filters_on_action_user_address_and_window_combine()
    {
        await Exec($$"""
            INSERT INTO audit_logs (user_id, action, ip_address, details, created_at) VALUES
              (@tag || '_1', 'memory.delete', '{{Host(5)}}', '{"status": 200}', @t),
              (@tag || '_1', 'memory.update', '{{Host(6)}}', '{"status": 200}', @t + interval '1 minute'),
              (@tag || '_2', 'memory.delete', '{{Host(7)}}', '{"status": 403}', @t + interval '2 minutes'),
              (@tag || '_1', 'auth.login',    '{{Host(5)}}', '{"status": 200}', @t + interval '3 minutes'),
              (@tag || '_1', 'memory.delete', '10.0.0.1', '{"status": 200}', @t + interval '4 minutes'),
              (@tag || '_1', 'memory.delete', '{{Host(5)}}', '{"status": 200}', @t + interval '10 minutes')
            """);

        var rows = await Read(new AuditLogQuery
        {
            Actions = [NamePattern.Parse("memory.*")], Users = [NamePattern.Parse(_tag + "_*")],
            Networks = [IpNetworks.Parse(_net)], Since = _incident.AddSeconds(-1), Until = _incident.AddMinutes(5),
        });

        Assert.Equal([("memory.delete", Host(5)), ("memory.update", Host(6)), ("memory.delete", Host(7))], rows.Select(r => (r.Action, r.IpAddress!)));
        Assert.Equal(_incident, rows[0].CreatedAt);
        Assert.Equal("{\"status\": 403}", rows[2].Details);
    }

    [Fact]
    public async Task Paging_happens_on_the_server_in_the_same_order()
    {
        var all = await Read(new AuditLogQuery { Actions = [NamePattern.Parse("auth.login_failed")] });
        var page = await Read(new AuditLogQuery { Actions = [NamePattern.Parse("auth.login_failed")] }, new Page(2, 3));
        Assert.Equal(all.Skip(2).Take(3).Select(r => r.Id), page.Select(r => r.Id));
        Assert.Equal(all.Count, await AuditLogService.CountAsync(Context(), new AuditLogQuery { Actions = [NamePattern.Parse("auth.login_failed")] }));
    }

    [Fact]
    public async Task Patterns_are_parameters_never_SQL()
    {
        var rows = await Read(new AuditLogQuery { Actions = [NamePattern.Parse("*'; DROP TABLE audit_logs; --*")], Users = [NamePattern.Parse("x' OR '1'='1")] });
        Assert.Empty(rows);
        await using var command = new NpgsqlCommand("SELECT to_regclass('audit_logs') IS NOT NULL", _db);
        Assert.True((bool)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Affected_users_are_those_whose_memories_changed_after_the_incident()
    {
        await Exec("""
            INSERT INTO memories (user_id, content, created_at, updated_at) VALUES
              (@tag || '_a', 'a1', @t - interval '1 day', @t + interval '1 minute'),
              (@tag || '_a', 'a2', @t - interval '1 day', @t + interval '3 minutes'),
              (@tag || '_a', 'a3', @t - interval '1 day', @t + interval '2 minutes'),
              (@tag || '_b', 'b1', @t - interval '1 day', @t + interval '5 minutes'),
              (@tag || '_c', 'c1', @t - interval '1 day', @t - interval '10 minutes')
            """);
        var ctx = Context();

        var users = await Collect(AuditLogService.GetAffectedUsersAsync(ctx, _incident, null, Page.All));
        var window = await Collect(AuditLogService.GetAffectedUsersAsync(ctx, _incident, _incident.AddMinutes(4), Page.All));

        Assert.Equal([_tag + "_a", _tag + "_b"], users.Select(u => u.UserId));
        Assert.Equal(3, users[0].Rows);
        Assert.Equal(_incident.AddMinutes(1), users[0].FirstChange);
        Assert.Equal(_incident.AddMinutes(3), users[0].LastChange);
        Assert.Equal([_tag + "_a"], window.Select(u => u.UserId));
    }

    private string Host(int last) => _net.Replace("0/24", last.ToString(), StringComparison.Ordinal);

    private OperationContext Context() => TestEnvironments.Context(_environment);

    private Task<List<AuditLogEntry>> Read(AuditLogQuery query, Page? page = null) =>
        Collect(AuditLogService.GetAsync(Context(), query, page ?? Page.All));

    private static async Task<List<T>> Collect<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
            list.Add(item);
        return list;
    }

    private async Task Exec(string sql)
    {
        await using var command = new NpgsqlCommand(sql, _db);
        command.Parameters.AddWithValue("tag", _tag);
        command.Parameters.AddWithValue("t", NpgsqlDbType.TimestampTz, _incident.UtcDateTime);
        await command.ExecuteNonQueryAsync();
    }
}
