using PuoOps.Engine.Redis;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Redis;

public sealed class CacheClearTests
{
    [Fact]
    public async Task A_pattern_delete_removes_every_match_and_nothing_else()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix + ":gone", 12_345);
            await RedisTestData.SeedAsync(prefix + ":kept", 500);
            using var env = RedisTestData.Environment();
            var result = await CacheClearService.ClearPatternAsync(TestEnvironments.Context(env), prefix + ":gone:*", null, 1000, countOnly: false);
            Assert.Equal(12_345, result.Deleted);
            Assert.Equal(12_345, result.Scanned);
            Assert.False(result.StoppedEarly || result.WhatIf);
            Assert.Equal(prefix + ":gone:*", result.Pattern);
            Assert.Equal(0, RedisTestData.Count(prefix + ":gone:*"));
            Assert.Equal(500, RedisTestData.Count(prefix + ":kept:*"));
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Fact]
    public async Task Count_only_counts_and_deletes_none()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 777);
            using var env = RedisTestData.Environment();
            var result = await CacheClearService.ClearPatternAsync(TestEnvironments.Context(env), prefix + ":*", null, 100, countOnly: true);
            Assert.True(result.WhatIf);
            Assert.Equal(777, result.Scanned);
            Assert.Equal(0, result.Deleted);
            Assert.Equal(777, RedisTestData.Count(prefix + ":*"));
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Fact]
    public async Task MaxKeys_caps_the_run_and_says_it_stopped_early()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 5000);
            using var env = RedisTestData.Environment();
            var result = await CacheClearService.ClearPatternAsync(TestEnvironments.Context(env), prefix + ":*", 1234, 500, countOnly: false);
            Assert.Equal(1234, result.Deleted);
            Assert.True(result.StoppedEarly);
            Assert.Contains("-MaxKeys", result.Message);
            Assert.Equal(5000 - 1234, RedisTestData.Count(prefix + ":*"));
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Fact]
    public async Task Flush_empties_only_the_environments_own_database()
    {
        const int db = 7; // this test's own database; db 0 holds the shared seeded keys
        var prefix = RedisTestData.NewPrefix();
        await RedisTestData.Server.FlushDatabaseAsync(db); // whatever an interrupted earlier run left
        await RedisTestData.SeedAsync(prefix, 250, db);
        var sharedBefore = await RedisTestData.Server.DatabaseSizeAsync(0);
        using var env = RedisTestData.Environment(database: db);
        var ctx = TestEnvironments.Context(env);
        var preview = await CacheClearService.FlushAsync(ctx, countOnly: true);
        Assert.Equal(250, preview.Scanned);
        Assert.Equal(0, preview.Deleted);
        Assert.Equal(250, await RedisTestData.Server.DatabaseSizeAsync(db));
        var result = await CacheClearService.FlushAsync(ctx, countOnly: false);
        Assert.Equal(250, result.Deleted);
        Assert.Null(result.Pattern);
        Assert.Equal(0, await RedisTestData.Server.DatabaseSizeAsync(db));
        Assert.True(await RedisTestData.Server.DatabaseSizeAsync(0) >= Math.Min(sharedBefore, 1000));
    }

    [Theory]
    [InlineData("*", true)]
    [InlineData("", true)]
    [InlineData(" ** ", true)]
    [InlineData("puo:*", false)]
    [InlineData("*:session:*", false)]
    public void Match_all_patterns_are_recognised(string pattern, bool everything) =>
        Assert.Equal(everything, CacheClearService.MatchesEverything(pattern));
}
