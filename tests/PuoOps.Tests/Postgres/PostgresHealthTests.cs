using PuoOps.Engine.Postgres;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Postgres;

public sealed class PostgresHealthTests
{
    [Fact]
    public async Task Sandbox_server_is_ok_with_version_and_latency()
    {
        using var env = TestEnvironments.Sandbox();
        var health = await PostgresHealthService.TestAsync(TestEnvironments.Context(env));
        Assert.Equal(Status.OK, health.Status);
        Assert.True(health.Reachable && health.Authenticated);
        Assert.StartsWith("1", health.ServerVersion);
        Assert.True(health.Latency > TimeSpan.Zero);
        Assert.Equal("puo_memo", health.Database);
    }

    [Fact]
    public async Task Wrong_password_is_critical_but_reachable_and_the_password_is_not_shown()
    {
        using var env = TestEnvironments.WithPostgresUrl($"postgres://puo:WrongPassword123@127.0.0.1:{Sandbox.Current.PostgresPort}/puo_memo");
        var health = await PostgresHealthService.TestAsync(TestEnvironments.Context(env));
        Assert.Equal(Status.Critical, health.Status);
        Assert.True(health.Reachable);
        Assert.False(health.Authenticated);
        Assert.Contains("28P01", health.Message);
        Assert.DoesNotContain("WrongPassword123", health.Message);
    }

    [Fact]
    public async Task Closed_port_is_critical_and_unreachable()
    {
        using var env = TestEnvironments.WithPostgresUrl($"postgres://puo:x@127.0.0.1:{TestEnvironments.ClosedPort()}/puo_memo");
        var health = await PostgresHealthService.TestAsync(TestEnvironments.Context(env));
        Assert.Equal(Status.Critical, health.Status);
        Assert.False(health.Reachable);
        Assert.Contains("refused", health.Message);
    }

    [Fact]
    public async Task A_hung_server_times_out_within_the_timeout()
    {
        using var blackhole = new BlackholeServer();
        using var env = TestEnvironments.WithPostgresUrl($"postgres://puo:x@127.0.0.1:{blackhole.Port}/puo_memo");
        var error = await Assert.ThrowsAsync<PuoException>(() => PostgresConnections.OpenAsync(TestEnvironments.Context(env, timeoutSeconds: 2)));
        Assert.Equal(ErrorKind.Timeout, error.Kind);
        Assert.Contains("within 2 s", error.Message);
    }
}
