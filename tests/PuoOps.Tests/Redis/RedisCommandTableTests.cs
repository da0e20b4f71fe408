using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Redis;
using PuoOps.Tests.Infrastructure;
using StackExchange.Redis;

namespace PuoOps.Tests.Redis;

/// <summary>
/// Servers started with rename-command lines or ACL users of the test's own: a command the server does not have is a
/// PermissionDenied error naming it, and Clear-PuoCache falls back to other commands only where the command itself is refused.
/// </summary>
public sealed class RedisCommandTableTests
{
    [Theory]
    [InlineData("CONFIG", "Get-PuoRedisConfig maxmemory -Environment renamed")]
    [InlineData("SLOWLOG", "Get-PuoRedisSlowLog -Environment renamed")]
    [InlineData("MEMORY", "Get-PuoBigKey -Environment renamed")]
    [InlineData("FLUSHDB", "Clear-PuoCache -Force -Confirm:$false -Environment renamed")]
    public async Task A_command_renamed_away_is_a_PermissionDenied_error_naming_it(string command, string script)
    {
        await using var server = await LocalRedisServer.StartAsync($"rename-command {command} \"\"");
        await using (var direct = await server.ConnectAsync())
            await direct.GetDatabase().StringSetAsync("puo:config:version", "1");
        using var host = new ModuleHost(connectSandbox: false);
        host.Invoke("Connect-PuoEnvironment -Name renamed -RedisConnectionString $url",
            new Dictionary<string, object?> { ["url"] = $"redis://127.0.0.1:{server.Port}/0" }).ThrowIfFailed();
        var result = host.Invoke(script);
        Assert.Empty(result.Output);
        var error = Assert.Single(result.Errors);
        Assert.Equal("PuoOps.Redis.CommandDisabled", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
        Assert.Contains($"does not allow {command}", error.Exception.Message);
        Assert.Single(server.Keys("puo:*")); // FLUSHDB was not sent
    }

    /// <summary>The cached command table answer goes with a reconnect: the server came back with CONFIG renamed away.</summary>
    [Fact]
    public async Task A_restart_with_another_rename_command_is_seen_after_the_reconnect()
    {
        await using var server = await LocalRedisServer.StartAsync();
        using var env = RedisTestData.Environment(connectionString: server.ConnectionString);
        var ctx = TestEnvironments.Context(env, timeoutSeconds: 5);
        var primary = (await RedisConnections.PrimariesAsync(ctx))[0];
        Assert.True(await RedisConnections.HasCommandAsync(ctx, primary.Server, "CONFIG"));

        await server.RestartAsync("rename-command CONFIG \"\"");
        bool? answer = true;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (answer == true && DateTime.UtcNow < deadline)
        {
            try
            {
                answer = await RedisConnections.HasCommandAsync(ctx, primary.Server, "CONFIG");
            }
            catch (Exception ex) when (ex is RedisConnectionException or PuoException) // still reconnecting
            {
            }
            if (answer == true)
                await Task.Delay(100);
        }
        Assert.False(answer);
        var error = await Assert.ThrowsAsync<PuoException>(async () =>
        {
            await foreach (var _ in RedisConfigService.GetAsync(ctx, ["maxmemory"])) { }
        });
        Assert.Equal((ErrorKind.PermissionDenied, "PuoOps.Redis.CommandDisabled"), (error.Kind, error.ErrorId));
    }

    /// <summary>
    /// An ACL user whose key patterns leave out one key that SCAN meets late: the keys before it go, then the refusal is an
    /// error. No start over client-side (which would count the deleted keys twice) and no switch from UNLINK to DEL, which a key
    /// refusal is no reason for. The control: a user refused UNLINK itself (every key allowed) gets the job done with DEL.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_key_refused_by_an_ACL_pattern_midway_is_an_error_without_starting_over(bool evalAllowed)
    {
        await using var server = await LocalRedisServer.StartAsync();
        string refused;
        await using (var direct = await server.ConnectAsync())
        {
            var database = direct.GetDatabase();
            await Task.WhenAll(Enumerable.Range(0, 200).Select(i => database.StringSetAsync($"k:{i}", "v")));
            // SCAN's order (as the first script step's SCAN COUNT 10 sees it): the refused key is one of the last page.
            var admin = direct.GetServers()[0];
            var pages = new List<string[]>();
            var cursor = "0";
            do
            {
                var reply = (RedisResult[])(await admin.ExecuteAsync("SCAN", cursor, "MATCH", "*", "COUNT", 10))!;
                cursor = (string)reply[0]!;
                pages.Add(((RedisResult[])reply[1]!).Select(k => (string)k!).ToArray());
            }
            while (cursor != "0");
            refused = pages.Last(page => page.Length > 0).Last();
            Assert.DoesNotContain(refused, pages[0]);
            var allowed = Enumerable.Range(0, 200).Select(i => $"k:{i}").Where(k => k != refused).Select(k => "~" + k);
            await admin.ExecuteAsync("ACL", ["SETUSER", "limited", "reset", "on", ">limited-pw", "+@all", .. evalAllowed ? Array.Empty<object>() : ["-eval"], .. allowed]);
            await admin.ExecuteAsync("ACL", "SETUSER", "nounlink", "reset", "on", ">nounlink-pw", "+@all", "-eval", "-unlink", "~*");
        }

        using var env = RedisTestData.Environment(connectionString: $"{server.ConnectionString},user=limited,password=limited-pw");
        var log = new List<string>();
        var ctx = new OperationContext(env, TimeSpan.FromSeconds(15), CancellationToken.None, verbose: line => { lock (log) log.Add(line); });
        var error = ErrorTranslator.Translate(await Assert.ThrowsAsync<RedisServerException>(() => CacheClearService.ClearPatternAsync(ctx, "*", null, 10, countOnly: false)), env);
        // The client's own UNLINK is refused with NOPERM; Redis 7.0 reports the same refusal inside a script as ERR, later ones may say NOPERM.
        Assert.Contains(error.ErrorId, (string[])(evalAllowed ? ["PuoOps.Redis.ServerError", "PuoOps.Redis.CommandDisabled"] : ["PuoOps.Redis.CommandDisabled"]));
        Assert.Contains("access", error.Message);
        // Client-side only where EVAL itself is refused (on the first step, before anything was counted).
        Assert.Equal(!evalAllowed, log.Any(line => line.Contains("client-side batches", StringComparison.Ordinal)));
        Assert.DoesNotContain(log, line => line.Contains("deleting with DEL", StringComparison.Ordinal));
        var left = server.Keys("k:*");
        Assert.Contains(refused, left);
        Assert.InRange(left.Count, 1, 190); // the pages before the refused key went

        using var noUnlink = RedisTestData.Environment(connectionString: $"{server.ConnectionString},user=nounlink,password=nounlink-pw");
        log.Clear();
        ctx = new OperationContext(noUnlink, TimeSpan.FromSeconds(15), CancellationToken.None, verbose: line => { lock (log) log.Add(line); });
        var result = await CacheClearService.ClearPatternAsync(ctx, "*", null, 10, countOnly: false);
        Assert.Equal(((long)left.Count, (long)left.Count), (result.Scanned, result.Deleted));
        Assert.Contains(log, line => line.StartsWith("UNLINK is not allowed", StringComparison.Ordinal));
        Assert.Empty(server.Keys("k:*"));
    }
}
