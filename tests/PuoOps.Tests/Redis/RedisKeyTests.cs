using PuoOps.Engine.Redis;
using PuoOps.Tests.Infrastructure;
using StackExchange.Redis;

namespace PuoOps.Tests.Redis;

public sealed class RedisKeyTests
{
    private static async Task<List<CacheKey>> Keys(PuoEnvironment env, string pattern, long? first = null, bool details = false)
    {
        var list = new List<CacheKey>();
        await foreach (var key in RedisKeyService.GetAsync(TestEnvironments.Context(env), pattern, first, details))
            list.Add(key);
        return list;
    }

    [Fact]
    public async Task Keys_are_found_by_pattern_capped_by_first_and_described_on_request()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 2500);
            await RedisTestData.Database().KeyExpireAsync($"{prefix}:7", TimeSpan.FromMinutes(10));
            await RedisTestData.Database().HashSetAsync($"{prefix}:hash", "field", "value");
            using var env = RedisTestData.Environment();
            var all = await Keys(env, prefix + ":*");
            Assert.Equal(2501, all.Count);
            Assert.Equal(2501, all.Select(k => k.Key).Distinct().Count());
            Assert.All(all, k => Assert.Null(k.Type));
            Assert.Equal(5, (await Keys(env, prefix + ":*", first: 5)).Count);
            var described = await Keys(env, prefix + ":[7h]*", details: true);
            var expiring = Assert.Single(described, k => k.Key == $"{prefix}:7");
            Assert.Equal("string", expiring.Type);
            Assert.InRange(expiring.Ttl!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
            Assert.True(expiring.MemoryBytes > 0);
            var hash = Assert.Single(described, k => k.Key == $"{prefix}:hash");
            Assert.Equal("hash", hash.Type);
            Assert.Null(hash.Ttl);
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Fact]
    public async Task Big_keys_are_ranked_by_memory_and_sampling_limits_the_work()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 300);
            await RedisTestData.Database().ListRightPushAsync($"{prefix}:biggest", Enumerable.Range(0, 5000).Select(i => (RedisValue)$"item {i}").ToArray());
            await RedisTestData.Database().StringSetAsync($"{prefix}:second", new string('x', 20_000));
            using var env = RedisTestData.Environment();
            var top = await RedisKeyService.GetBiggestAsync(TestEnvironments.Context(env), prefix + ":*", 3, null);
            Assert.Equal(3, top.Count);
            Assert.Equal($"{prefix}:biggest", top[0].Key);
            Assert.Equal("list", top[0].Type);
            Assert.Equal($"{prefix}:second", top[1].Key);
            Assert.True(top[0].MemoryBytes > top[1].MemoryBytes && top[1].MemoryBytes > top[2].MemoryBytes);
            var sample = await RedisKeyService.GetBiggestAsync(TestEnvironments.Context(env), prefix + ":*", 1000, 50);
            Assert.Equal(50, sample.Count);
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }
}
