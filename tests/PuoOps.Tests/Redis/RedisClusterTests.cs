using PuoOps.Engine.Redis;
using PuoOps.Tests.Infrastructure;
using StackExchange.Redis;

namespace PuoOps.Tests.Redis;

public sealed class RedisClusterTests
{
    [Fact]
    public void Node_ports_leave_room_for_a_free_cluster_bus_port()
    {
        // Many draws, since a bad port comes from the kernel only about one time in five.
        for (var i = 0; i < 100; i++)
        {
            var port = LocalRedisCluster.FreeNodePort();
            Assert.InRange(port + LocalRedisCluster.BusPortOffset, 1024, System.Net.IPEndPoint.MaxPort);
        }
    }

    [Fact]
    public async Task On_a_cluster_keys_are_listed_and_cleared_on_every_primary()
    {
        await using var cluster = await LocalRedisCluster.StartAsync();
        await using (var seed = await cluster.ConnectAsync())
        {
            var db = seed.GetDatabase();
            await Task.WhenAll(Enumerable.Range(0, 5000).Select(i => db.StringSetAsync($"puo:{i}", "v"))
                .Concat(Enumerable.Range(0, 300).Select(i => db.StringSetAsync($"other:{i}", "v"))));
        }
        using var env = RedisTestData.Environment(connectionString: cluster.ConnectionString);
        var ctx = TestEnvironments.Context(env);

        Assert.Equal("cluster", (await RedisHealthService.TestAsync(ctx)).Mode);
        var keys = new List<CacheKey>();
        await foreach (var key in RedisKeyService.GetAsync(ctx, "puo:*", null, details: false))
            keys.Add(key);
        Assert.Equal(5000, keys.Count);
        Assert.Equal(3, keys.Select(k => k.Server).Distinct().Count());

        Assert.Equal(5000, (await CacheClearService.ClearPatternAsync(ctx, "puo:*", null, 1000, countOnly: true)).Scanned);
        var capped = await CacheClearService.ClearPatternAsync(ctx, "puo:*", 700, 1000, countOnly: false);
        Assert.Equal(700, capped.Deleted);
        Assert.True(capped.StoppedEarly);
        var rest = await CacheClearService.ClearPatternAsync(ctx, "puo:*", null, 1000, countOnly: false);
        Assert.Equal(4300, rest.Deleted);

        await using var check = await cluster.ConnectAsync();
        foreach (var server in check.GetServers())
            Assert.Empty(server.Keys(0, "puo:*"));
        Assert.Equal(300, check.GetServers().Sum(s => s.Keys(0, "other:*").Count()));

        Assert.Equal(300, (await CacheClearService.FlushAsync(ctx, countOnly: false)).Deleted);
        Assert.All(check.GetServers(), server => Assert.Equal(0, server.DatabaseSize()));
    }
}
