using PuoOps.Engine;
using PuoOps.Engine.Redis;
using PuoOps.Tests.Infrastructure;
using StackExchange.Redis;

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

    /// <summary>
    /// A server started with rename-command EVAL "" (scripting turned off; UNLINK too in the second case): its command table
    /// says so before anything is sent, and the client-side SCAN batches count and delete what the script does on the sandbox.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Where_EVAL_is_renamed_away_client_side_batches_give_the_scripts_result(bool unlinkRenamedToo)
    {
        await using var server = await LocalRedisServer.StartAsync(["rename-command EVAL \"\"", .. unlinkRenamedToo ? ["rename-command UNLINK \"\""] : Array.Empty<string>()]);
        var prefix = RedisTestData.NewPrefix();
        await using (var direct = await server.ConnectAsync())
        {
            var database = direct.GetDatabase();
            await Task.WhenAll(Enumerable.Range(0, 3000).Select(i => database.StringSetAsync($"{prefix}:gone:{i}", "v"))
                .Concat(Enumerable.Range(0, 100).Select(i => database.StringSetAsync($"{prefix}:kept:{i}", "v"))));
        }
        try
        {
            await RedisTestData.SeedAsync(prefix + ":gone", 3000);
            await RedisTestData.SeedAsync(prefix + ":kept", 100);
            using var sandbox = RedisTestData.Environment();
            var sandboxContext = TestEnvironments.Context(sandbox);
            Assert.True(await RedisConnections.HasCommandAsync(sandboxContext, (await RedisConnections.PrimariesAsync(sandboxContext))[0].Server, "EVAL"));
            var scriptCount = await CacheClearService.ClearPatternAsync(sandboxContext, prefix + ":gone:*", null, 500, countOnly: true);
            var scriptDelete = await CacheClearService.ClearPatternAsync(sandboxContext, prefix + ":gone:*", null, 500, countOnly: false);

            using var renamed = RedisTestData.Environment(connectionString: server.ConnectionString);
            var log = new List<string>();
            var ctx = new OperationContext(renamed, TimeSpan.FromSeconds(15), CancellationToken.None, verbose: line => { lock (log) log.Add(line); });
            var primary = (await RedisConnections.PrimariesAsync(ctx))[0];
            Assert.False(await RedisConnections.HasCommandAsync(ctx, primary.Server, "EVAL"));
            Assert.Equal(!unlinkRenamedToo, await RedisConnections.HasCommandAsync(ctx, primary.Server, "UNLINK"));
            var count = await CacheClearService.ClearPatternAsync(ctx, prefix + ":gone:*", null, 500, countOnly: true);
            var delete = await CacheClearService.ClearPatternAsync(ctx, prefix + ":gone:*", null, 500, countOnly: false);

            Assert.Equal((3000L, 0L), (scriptCount.Scanned, scriptCount.Deleted));
            Assert.Equal((scriptCount.Scanned, scriptCount.Deleted), (count.Scanned, count.Deleted));
            Assert.Equal((3000L, 3000L), (scriptDelete.Scanned, scriptDelete.Deleted));
            Assert.Equal((scriptDelete.Scanned, scriptDelete.Deleted, scriptDelete.StoppedEarly), (delete.Scanned, delete.Deleted, delete.StoppedEarly));
            Assert.Contains(log, line => line.StartsWith("EVAL is not available", StringComparison.Ordinal));
            Assert.Equal(unlinkRenamedToo, log.Any(line => line.StartsWith("UNLINK is not available", StringComparison.Ordinal)));
            var left = server.Keys(prefix + ":*");
            Assert.Equal((0, 100), (left.Count(k => k.Contains(":gone:")), left.Count(k => k.Contains(":kept:"))));
            Assert.Equal((0L, 100L), (RedisTestData.Count(prefix + ":gone:*"), RedisTestData.Count(prefix + ":kept:*")));
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
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
