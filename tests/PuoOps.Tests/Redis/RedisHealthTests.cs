using PuoOps.Engine.Redis;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Redis;

public sealed class RedisHealthTests
{
    [Fact]
    public async Task Sandbox_redis_is_ok_with_version_role_and_latency()
    {
        using var env = RedisTestData.Environment();
        var health = await RedisHealthService.TestAsync(TestEnvironments.Context(env));
        Assert.Equal(Status.OK, health.Status);
        Assert.True(health.Reachable && health.Authenticated);
        Assert.Equal("master", health.Role);
        Assert.Equal("standalone", health.Mode);
        Assert.Matches(@"^\d+\.\d+", health.Version);
        Assert.True(health.Latency > TimeSpan.Zero);
        Assert.True(health.ConnectedClients >= 1);
    }

    [Fact]
    public async Task Wrong_password_is_critical_but_reachable_and_the_password_is_not_shown()
    {
        using var env = RedisTestData.Environment(connectionString: $"127.0.0.1:{Port},password=WrongRedisPassword42");
        var health = await RedisHealthService.TestAsync(TestEnvironments.Context(env, timeoutSeconds: 5));
        Assert.Equal(Status.Critical, health.Status);
        Assert.True(health.Reachable);
        Assert.False(health.Authenticated);
        Assert.Contains("credentials", health.Message);
        Assert.DoesNotContain("WrongRedisPassword42", health.Message);
    }

    [Fact]
    public async Task Closed_port_is_critical_and_unreachable()
    {
        var port = TestEnvironments.ClosedPort();
        using var env = RedisTestData.Environment(connectionString: $"127.0.0.1:{port},password=x");
        var health = await RedisHealthService.TestAsync(TestEnvironments.Context(env, timeoutSeconds: 5));
        Assert.Equal(Status.Critical, health.Status);
        Assert.False(health.Reachable);
        // Usually "could not be reached" at once; on a loaded machine the connect may hit the timeout first.
        Assert.Contains($"127.0.0.1:{port}", health.Message);
        Assert.Matches("could not be reached|did not finish", health.Message);
    }

    [Fact]
    public async Task A_hung_server_is_critical_within_the_timeout()
    {
        using var blackhole = new BlackholeServer();
        using var env = RedisTestData.Environment(connectionString: $"127.0.0.1:{blackhole.Port},password=x");
        var health = await RedisHealthService.TestAsync(TestEnvironments.Context(env, timeoutSeconds: 2));
        Assert.Equal(Status.Critical, health.Status);
        Assert.False(health.Reachable);
        Assert.Matches("did not finish|could not be reached", health.Message);
    }

    private static int Port => int.Parse(Sandbox.Current.State.GetProperty("Redis").GetProperty("Port").ToString());
}
