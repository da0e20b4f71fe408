using PuoOps.Engine;
using PuoOps.Engine.Redis;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Redis;

public sealed class RedisInfoTests
{
    private static async Task<List<T>> ToList<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
            list.Add(item);
        return list;
    }

    [Fact]
    public async Task Memory_section_reports_usage_against_maxmemory_with_configurable_thresholds()
    {
        using var env = RedisTestData.Environment();
        var ctx = TestEnvironments.Context(env);
        var memory = Assert.IsType<RedisMemoryInfo>(Assert.Single(await ToList(RedisInfoService.GetAsync(ctx, ["memory"], 80, 95))));
        Assert.Equal(Status.OK, memory.Status);
        Assert.Equal(2L * 1024 * 1024 * 1024, memory.MaxMemoryBytes); // the sandbox's maxmemory 2gb
        Assert.Equal("noeviction", memory.Policy);
        Assert.Equal("maxmemory", memory.LimitSource);
        Assert.True(memory.UsedBytes > 0 && memory.PeakBytes >= memory.UsedBytes && memory.RssBytes > 0);
        Assert.True(memory.FragmentationRatio > 0);
        Assert.Equal(Math.Round(100.0 * memory.UsedBytes!.Value / memory.MaxMemoryBytes!.Value, 1), memory.UsedPercent);
        var tight = (RedisMemoryInfo)Assert.Single(await ToList(RedisInfoService.GetAsync(ctx, ["memory"], 0.0001, 0.0002)));
        Assert.Equal(Status.Critical, tight.Status);
        await Assert.ThrowsAsync<PuoException>(async () => await ToList(RedisInfoService.GetAsync(ctx, ["memory"], 95, 80)));
    }

    [Fact]
    public async Task Sections_come_as_typed_values_and_an_unknown_section_is_an_invalid_argument()
    {
        using var env = RedisTestData.Environment();
        var ctx = TestEnvironments.Context(env);
        var sections = await ToList(RedisInfoService.GetAsync(ctx, ["clients", "stats"], 80, 95));
        Assert.Equal(["clients", "stats"], sections.Select(s => s.Section));
        Assert.IsType<long>(sections[0].Fields["connected_clients"]);
        Assert.IsType<double>(sections[1].Fields["instantaneous_input_kbps"]);
        var everything = await ToList(RedisInfoService.GetAsync(ctx, [], 80, 95));
        Assert.Contains(everything, s => s.Section == "server" && (string)s.Fields["redis_mode"] == "standalone");
        var error = await Assert.ThrowsAsync<PuoException>(async () => await ToList(RedisInfoService.GetAsync(ctx, ["nosuchsection"], 80, 95)));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public async Task A_user_without_INFO_gets_Unknown_instead_of_a_crash()
    {
        var user = "xunit-noinfo-" + Guid.NewGuid().ToString("N")[..8];
        var password = Guid.NewGuid().ToString("N");
        await RedisTestData.Server.ExecuteAsync("ACL", "SETUSER", user, "on", ">" + password, "~*", "&*", "+@all", "-info", "-memory");
        try
        {
            var port = Sandbox.Current.State.GetProperty("Redis").GetProperty("Port").ToString();
            using var env = RedisTestData.Environment(connectionString: $"127.0.0.1:{port},user={user},password={password}");
            // MEMORY USAGE is refused too: keys are still listed, without their size.
            await AssertReadsWithoutInfoAndMemoryAsync(TestEnvironments.Context(env), "does not allow");
        }
        finally
        {
            await RedisTestData.Server.ExecuteAsync("ACL", "DELUSER", user);
        }
    }

    /// <summary>
    /// A server started with rename-command INFO "" and MEMORY "": no ACL refusal, just commands its command table lacks
    /// (COMMAND INFO says nil), so the same degraded answers as for a user without them, and no error.
    /// </summary>
    [Fact]
    public async Task A_server_with_INFO_and_MEMORY_renamed_away_gets_Unknown_and_keys_without_size()
    {
        await using var server = await LocalRedisServer.StartAsync("rename-command INFO \"\"", "rename-command MEMORY \"\"");
        await using (var direct = await server.ConnectAsync())
            await direct.GetDatabase().StringSetAsync("puo:config:version", "1");
        using var env = RedisTestData.Environment(connectionString: server.ConnectionString);
        var ctx = TestEnvironments.Context(env);
        var primary = (await RedisConnections.PrimariesAsync(ctx))[0];
        Assert.Equal((false, false, true), (await RedisConnections.HasCommandAsync(ctx, primary.Server, "INFO"),
            await RedisConnections.HasCommandAsync(ctx, primary.Server, "MEMORY"), await RedisConnections.HasCommandAsync(ctx, primary.Server, "GET")));
        await AssertReadsWithoutInfoAndMemoryAsync(ctx, "has no INFO");
    }

    /// <summary>Where INFO and MEMORY cannot be run: memory Unknown saying why, health OK without a version, keys without their size.</summary>
    private static async Task AssertReadsWithoutInfoAndMemoryAsync(OperationContext ctx, string why)
    {
        var memory = Assert.IsType<RedisMemoryInfo>(Assert.Single(await ToList(RedisInfoService.GetAsync(ctx, ["memory"], 80, 95))));
        Assert.Equal(Status.Unknown, memory.Status);
        Assert.Contains(why, memory.Message);
        var health = await RedisHealthService.TestAsync(ctx);
        Assert.Equal(Status.OK, health.Status);
        Assert.Null(health.Version);
        var key = Assert.Single(await ToList(RedisKeyService.GetAsync(ctx, "puo:config:version", null, details: true)));
        Assert.Equal("string", key.Type);
        Assert.Null(key.MemoryBytes);
    }

    [Fact]
    public async Task Config_get_by_pattern_returns_sorted_name_value_pairs()
    {
        using var env = RedisTestData.Environment();
        var settings = await ToList(RedisConfigService.GetAsync(TestEnvironments.Context(env), ["maxmemory*"]));
        Assert.Equal("2147483648", Assert.Single(settings, s => s.Name == "maxmemory").Value);
        Assert.Equal("noeviction", Assert.Single(settings, s => s.Name == "maxmemory-policy").Value);
        Assert.Equal(settings.Select(s => s.Name).Order(StringComparer.OrdinalIgnoreCase), settings.Select(s => s.Name));
    }

    [Fact]
    public async Task Slow_log_shows_a_slow_command_with_its_client()
    {
        var marker = "xunit-slow-" + Guid.NewGuid().ToString("N")[..8];
        // A script that spins for ~50 ms: slower than the default slowlog-log-slower-than of 10 ms.
        await RedisTestData.Database().ScriptEvaluateAsync(
            "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] " +
            "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 50000 return ARGV[1]", values: [marker]);
        using var env = RedisTestData.Environment();
        var entries = await ToList(RedisSlowLogService.GetAsync(TestEnvironments.Context(env), 128));
        var mine = Assert.Single(entries, e => e.Arguments.Contains(marker));
        Assert.Equal("EVAL", mine.Arguments[0], ignoreCase: true);
        Assert.True(mine.Duration >= TimeSpan.FromMilliseconds(10));
        Assert.StartsWith("127.0.0.1:", mine.ClientAddress);
        Assert.InRange(mine.Time, DateTimeOffset.Now.AddMinutes(-5), DateTimeOffset.Now.AddMinutes(1));
    }
}
