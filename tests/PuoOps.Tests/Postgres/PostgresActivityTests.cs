using PuoOps.Engine.Postgres;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Postgres;

public sealed class PostgresActivityTests
{
    private static async Task<List<SlowQuery>> SlowQueries(PuoEnvironment env, TimeSpan minimum, bool includeIdle = false)
    {
        var list = new List<SlowQuery>();
        await foreach (var q in PostgresActivityService.GetSlowQueriesAsync(TestEnvironments.Context(env), minimum, includeIdle))
            list.Add(q);
        return list;
    }

    [Fact]
    public async Task Finds_a_slow_query_with_its_details_and_never_its_own_session()
    {
        await using var slow = await SlowSession.StartAsync("SELECT pg_sleep(60) /* find-me */");
        await Task.Delay(1200);
        using var env = TestEnvironments.Sandbox();
        var found = await SlowQueries(env, TimeSpan.FromSeconds(1));
        var mine = Assert.Single(found, q => q.Pid == slow.Pid);
        Assert.Equal("active", mine.State);
        Assert.Contains("find-me", mine.Query);
        Assert.True(mine.Duration >= TimeSpan.FromSeconds(1));
        Assert.Equal("xunit-slow", mine.Application);
        Assert.Equal(env.Name, mine.Environment);
        Assert.DoesNotContain(found, q => q.Application == "PuoOps" && q.Query.Contains("pg_stat_activity"));
    }

    [Fact]
    public async Task A_query_shorter_than_the_minimum_is_not_reported()
    {
        await using var slow = await SlowSession.StartAsync("SELECT pg_sleep(60) /* too-young */");
        using var env = TestEnvironments.Sandbox();
        Assert.DoesNotContain(await SlowQueries(env, TimeSpan.FromMinutes(5)), q => q.Pid == slow.Pid);
    }

    [Fact]
    public async Task Idle_in_transaction_only_with_the_switch()
    {
        await using var idle = await SlowSession.StartAsync("BEGIN; SELECT 1;");
        await Task.Delay(1200);
        using var env = TestEnvironments.Sandbox();
        Assert.DoesNotContain(await SlowQueries(env, TimeSpan.FromSeconds(1)), q => q.Pid == idle.Pid);
        var withIdle = await SlowQueries(env, TimeSpan.FromSeconds(1), includeIdle: true);
        Assert.Equal("idle in transaction", Assert.Single(withIdle, q => q.Pid == idle.Pid).State);
    }

    [Fact]
    public async Task Blocked_query_names_its_blocker()
    {
        await using var setup = new Npgsql.NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await setup.OpenAsync();
        var table = "xunit_lock_" + Guid.NewGuid().ToString("N")[..8];
        await new Npgsql.NpgsqlCommand($"CREATE TABLE {table}(id int)", setup).ExecuteNonQueryAsync();
        try
        {
            await using var holder = await SlowSession.StartAsync($"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;");
            await using var waiter = await SlowSession.StartAsync($"SELECT count(*) FROM {table}");
            await Task.Delay(1200);
            using var env = TestEnvironments.Sandbox();
            var blocked = Assert.Single(await SlowQueries(env, TimeSpan.FromSeconds(1)), q => q.Pid == waiter.Pid);
            Assert.Contains(holder.Pid, blocked.BlockedBy);
            Assert.StartsWith("Lock:", blocked.WaitEvent);
        }
        finally
        {
            await new Npgsql.NpgsqlCommand($"DROP TABLE IF EXISTS {table}", setup).ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Cancel_stops_the_query_but_keeps_the_session()
    {
        await using var slow = await SlowSession.StartAsync();
        using var env = TestEnvironments.Sandbox();
        var ctx = TestEnvironments.Context(env);
        var backend = await PostgresActivityService.GetBackendAsync(ctx, slow.Pid, allowNonClient: false);
        Assert.True(await PostgresActivityService.SignalAsync(ctx, slow.Pid, terminate: false, backend.QueryStart));
        var error = await slow.Running.WaitAsync(TimeSpan.FromSeconds(10));
        var postgres = Assert.IsType<Npgsql.PostgresException>(error);
        Assert.Equal("57014", postgres.SqlState);
    }

    [Fact]
    public async Task Terminate_ends_the_session()
    {
        await using var slow = await SlowSession.StartAsync();
        using var env = TestEnvironments.Sandbox();
        Assert.True(await PostgresActivityService.SignalAsync(TestEnvironments.Context(env), slow.Pid, terminate: true, null));
        var error = await slow.Running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(error);
        // A cancel would surface as 57014 query_canceled; a terminated session loses its connection instead.
        Assert.False(error is Npgsql.PostgresException { SqlState: "57014" });
    }

    [Fact]
    public async Task A_query_that_moved_on_is_not_signalled()
    {
        await using var slow = await SlowSession.StartAsync();
        using var env = TestEnvironments.Sandbox();
        var signalled = await PostgresActivityService.SignalAsync(TestEnvironments.Context(env), slow.Pid, terminate: false, new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        Assert.False(signalled);
        Assert.False(slow.Running.IsCompleted);
    }

    [Fact]
    public async Task Unknown_pid_and_own_session_are_refused()
    {
        using var env = TestEnvironments.Sandbox();
        var ctx = TestEnvironments.Context(env);
        var missing = await Assert.ThrowsAsync<PuoException>(() => PostgresActivityService.GetBackendAsync(ctx, int.MaxValue - 1, false));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
        await using var conn = await PostgresConnections.OpenAsync(ctx);
        var serverProcess = await new Npgsql.NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend' LIMIT 1", conn).ExecuteScalarAsync();
        var refused = await Assert.ThrowsAsync<PuoException>(() => PostgresActivityService.GetBackendAsync(ctx, (int)serverProcess!, false));
        Assert.Equal("PuoOps.Postgres.NotAClientBackend", refused.ErrorId);
    }

    [Fact]
    public async Task Connection_stat_counts_sessions_against_available_slots()
    {
        await using var a = await SlowSession.StartAsync("BEGIN; SELECT 1;", "xunit-conn-stat");
        await using var b = await SlowSession.StartAsync("SELECT pg_sleep(60)", "xunit-conn-stat");
        await Task.Delay(300);
        using var env = TestEnvironments.Sandbox();
        var stat = await ConnectionStatService.GetAsync(TestEnvironments.Context(env), 80, 95);
        Assert.Equal(stat.MaxConnections - stat.ReservedConnections, stat.Available);
        Assert.True(stat.ByApplication["xunit-conn-stat"] >= 2);
        Assert.True(stat.IdleInTransaction >= 1);
        Assert.NotNull(stat.OldestIdleInTransaction);
        Assert.Equal(Status.OK, stat.Status);
        var tight = await ConnectionStatService.GetAsync(TestEnvironments.Context(env), 0.1, 0.2);
        Assert.Equal(Status.Critical, tight.Status);
        await Assert.ThrowsAsync<PuoException>(() => ConnectionStatService.GetAsync(TestEnvironments.Context(env), 90, 80));
    }
}
