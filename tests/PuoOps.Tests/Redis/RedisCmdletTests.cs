using System.Management.Automation;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Redis;

/// <summary>The built module in a runspace: the operator's view of the Redis cmdlets.</summary>
public sealed class RedisCmdletTests
{
    private static Dictionary<string, object?> Vars(params (string Name, object? Value)[] pairs) => pairs.ToDictionary(p => p.Name, p => p.Value);

    [Fact]
    public void Test_info_and_config_pipe_as_the_runbook_reads_them()
    {
        using var host = new ModuleHost();
        var result = host.Invoke("""
            $health = Test-PuoRedis
            $memory = Get-PuoRedisInfo -Section memory
            $config = Get-PuoRedisConfig maxmemory
            [pscustomobject]@{ Health = $health.Status.ToString(); Quiet = Test-PuoRedis -Quiet; Memory = $memory.GetType().FullName
                               NotOk = @(Get-PuoRedisInfo memory, clients | Where-Object Status -ne OK).Count; MaxMemory = $config.Value }
            """).ThrowIfFailed();
        var row = Assert.Single(result.Output);
        Assert.Equal("OK", row.Properties["Health"].Value);
        Assert.Equal("True", row.Properties["Quiet"].Value.ToString());
        Assert.Equal("PuoOps.RedisMemoryInfo", row.Properties["Memory"].Value);
        Assert.Equal(0, row.Properties["NotOk"].Value);
        Assert.Equal("2147483648", row.Properties["MaxMemory"].Value);
    }

    [Fact]
    public void Every_setting_of_Get_PuoRedisConfig_shows_no_password()
    {
        using var host = new ModuleHost();
        var result = host.Invoke("Get-PuoRedisConfig | Format-Table Name, Value -AutoSize | Out-String -Width 300; Get-PuoRedisConfig requirepass, masterauth").ThrowIfFailed();
        Assert.DoesNotContain(Sandbox.Current.RedisPassword, result.AllText);
        var settings = result.Output.Skip(1).ToDictionary(o => (string)o.Properties["Name"].Value, o => (string)o.Properties["Value"].Value);
        Assert.Equal("********", settings["requirepass"]);
        Assert.Equal("", settings["masterauth"]); // none set: empty says so without a secret
        Assert.Contains("maxmemory", (string)result.Output[0].BaseObject);
    }

    [Fact]
    public async Task WhatIf_says_how_many_keys_would_go_and_deletes_none()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 300);
            using var host = new ModuleHost();
            var result = host.Invoke("Clear-PuoCache -Pattern $p -WhatIf", Vars(("p", prefix + ":*"))).ThrowIfFailed();
            var record = Assert.Single(result.Output);
            Assert.Equal(true, record.Properties["WhatIf"].Value);
            Assert.Equal(300L, record.Properties["Scanned"].Value);
            Assert.Equal(0L, record.Properties["Deleted"].Value);
            Assert.Equal(300, RedisTestData.Count(prefix + ":*"));
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Fact]
    public async Task Pattern_delete_through_the_pipeline_returns_its_record()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 1500);
            using var host = new ModuleHost();
            var result = host.Invoke("""
                $before = @(Get-PuoCacheKey $p).Count
                $r = Clear-PuoCache -Pattern $p -Confirm:$false
                [pscustomobject]@{ Before = $before; Deleted = $r.Deleted; After = @(Get-PuoCacheKey $p).Count; Type = $r.GetType().FullName }
                """, Vars(("p", prefix + ":*"))).ThrowIfFailed();
            var row = Assert.Single(result.Output);
            Assert.Equal(1500, row.Properties["Before"].Value);
            Assert.Equal(1500L, row.Properties["Deleted"].Value);
            Assert.Equal(0, row.Properties["After"].Value);
            Assert.Equal("PuoOps.CacheClearResult", row.Properties["Type"].Value);
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Theory]
    [InlineData("Clear-PuoCache -Pattern '*' -Confirm:$false", "PuoOps.Redis.PatternMatchesEverything")]
    [InlineData("Clear-PuoCache -Pattern '' -Confirm:$false", "PuoOps.Redis.PatternMatchesEverything")]
    [InlineData("Clear-PuoCache -MaxKeys 10 -Confirm:$false", "PuoOps.Redis.PatternRequired")]
    public async Task Dangerous_or_meaningless_requests_are_refused_before_anything_is_sent(string script, string errorId)
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 20);
            using var host = new ModuleHost();
            var result = host.Invoke(script);
            var error = Assert.Single(result.Errors);
            Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
            Assert.StartsWith(errorId, error.FullyQualifiedErrorId);
            Assert.Empty(result.Output);
            Assert.Equal(20, RedisTestData.Count(prefix + ":*"));
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Fact]
    public async Task Without_a_pattern_it_flushes_the_environments_database_only()
    {
        const int db = 6; // this test's own database; db 0 holds the shared seeded keys
        var prefix = RedisTestData.NewPrefix();
        await RedisTestData.Server.FlushDatabaseAsync(db); // whatever an interrupted earlier run left
        await RedisTestData.SeedAsync(prefix, 40, db);
        using var host = new ModuleHost();
        var result = host.Invoke("""
            Connect-PuoEnvironment -Name $name -RedisConnectionString $redis -SkipCheck -NoDefault
            $preview = Clear-PuoCache -Environment $name -WhatIf
            try { Clear-PuoCache -Environment $name -Confirm:$false } catch { $refusal = @($_) }
            $kept = (Clear-PuoCache -Environment $name -WhatIf).Scanned
            $done = Clear-PuoCache -Environment $name -Force -Confirm:$false
            Get-PuoEnvironment -Name $name | Disconnect-PuoEnvironment -Confirm:$false
            $preview, $done, $kept, $refusal[0].FullyQualifiedErrorId
            """, Vars(("name", "flush-" + Guid.NewGuid().ToString("N")[..6]), ("redis", Sandbox.Current.RedisConnectionString + $",defaultDatabase={db}"))).ThrowIfFailed();
        Assert.Equal(4, result.Output.Count);
        // A bare Clear-PuoCache without -Force deleted nothing.
        Assert.StartsWith("PuoOps.Redis.FlushNeedsForce", (string)result.Output[3].BaseObject);
        Assert.Equal(40L, result.Output[2].BaseObject);
        Assert.Equal(40L, result.Output[0].Properties["Scanned"].Value);
        Assert.Equal(true, result.Output[0].Properties["WhatIf"].Value);
        Assert.Equal(40L, result.Output[1].Properties["Deleted"].Value);
        Assert.Equal(0, await RedisTestData.Server.DatabaseSizeAsync(db));
        Assert.True(await RedisTestData.Server.DatabaseSizeAsync(0) > 0);
    }

    [Fact]
    public async Task Ctrl_C_stops_a_pattern_delete_between_batches()
    {
        var prefix = RedisTestData.NewPrefix();
        try
        {
            await RedisTestData.SeedAsync(prefix, 40_000);
            using var host = new ModuleHost();
            var (shell, pending) = host.Start($"Clear-PuoCache -Pattern '{prefix}:*' -BatchSize 10 -Confirm:$false");
            using (shell)
            {
                for (var i = 0; i < 200 && RedisTestData.Count(prefix + ":*") == 40_000; i++)
                    await Task.Delay(50);
                var stopping = shell.BeginStop(null, null);
                Assert.True(stopping.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(5)));
                Assert.Throws<PipelineStoppedException>(() => shell.EndInvoke(pending));
            }
            var left = RedisTestData.Count(prefix + ":*");
            await Task.Delay(300);
            Assert.InRange(left, 1, 39_999);
            Assert.Equal(left, RedisTestData.Count(prefix + ":*"));
        }
        finally
        {
            await RedisTestData.DeleteAsync(prefix + ":*");
        }
    }

    [Fact]
    public void Wrong_password_closed_port_and_hung_server_give_clear_errors_without_the_secret()
    {
        var port = Sandbox.Current.State.GetProperty("Redis").GetProperty("Port").ToString();
        using var blackhole = new BlackholeServer();
        using var host = new ModuleHost();
        var result = host.Invoke("""
            Connect-PuoEnvironment -Name badpw -RedisConnectionString "127.0.0.1:$port,password=NotTheRedisPassword99" -SkipCheck -NoDefault
            Connect-PuoEnvironment -Name closed -RedisConnectionString "127.0.0.1:$closed,password=NotTheRedisPassword99" -SkipCheck -NoDefault
            Connect-PuoEnvironment -Name hung -RedisConnectionString "127.0.0.1:$hung,password=NotTheRedisPassword99" -SkipCheck -NoDefault
            Get-PuoRedisInfo -Environment badpw -TimeoutSec 5
            Get-PuoRedisConfig -Environment closed -TimeoutSec 5
            Get-PuoCacheKey -Environment hung -TimeoutSec 2
            Get-PuoEnvironment | Where-Object Name -in 'badpw', 'closed', 'hung' | Disconnect-PuoEnvironment -Confirm:$false
            """, Vars(("port", port), ("closed", TestEnvironments.ClosedPort()), ("hung", blackhole.Port)));
        Assert.Equal(3, result.Errors.Count);
        Assert.Equal(ErrorCategory.AuthenticationError, result.Errors[0].CategoryInfo.Category);
        Assert.Equal(ErrorCategory.ConnectionError, result.Errors[1].CategoryInfo.Category);
        Assert.Contains(result.Errors[2].CategoryInfo.Category, new[] { ErrorCategory.OperationTimeout, ErrorCategory.ConnectionError });
        Assert.DoesNotContain("NotTheRedisPassword99", result.AllText);
        Assert.DoesNotContain(Sandbox.Current.RedisPassword, result.AllText);
    }
}
