using System.Management.Automation;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Postgres;

/// <summary>The PostgreSQL cmdlets of the built module, as an operator runs them.</summary>
public sealed class PostgresCmdletTests : IDisposable
{
    private readonly ModuleHost _host = new();

    public void Dispose() => _host.Dispose();

    [Fact]
    public async Task Slow_query_piped_to_stop_with_WhatIf_changes_nothing_then_cancels_for_real()
    {
        var app = "xunit-pipe-" + Guid.NewGuid().ToString("N")[..6];
        await using var slow = await SlowSession.StartAsync("SELECT pg_sleep(60)", app);
        await Task.Delay(1100);
        const string pipeline = "Get-PuoSlowQuery -MinimumDuration 00:00:01 | Where-Object Application -eq $app | Stop-PuoQuery ";
        var vars = new Dictionary<string, object?> { ["app"] = app };

        var whatIf = _host.Invoke(pipeline + "-WhatIf", vars).ThrowIfFailed();
        Assert.Empty(whatIf.Output);
        await Task.Delay(300);
        Assert.False(slow.Running.IsCompleted);

        var real = _host.Invoke(pipeline + "-Confirm:$false", vars).ThrowIfFailed();
        var result = Assert.Single(real.Output);
        Assert.Equal("PuoOps.QueryStopResult", result.TypeNames[0]);
        Assert.Equal(slow.Pid, (int)result.Properties["Pid"].Value);
        Assert.True((bool)result.Properties["Signalled"].Value);
        Assert.Equal("Cancel", result.Properties["Action"].Value);
        var error = await slow.Running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("57014", Assert.IsType<Npgsql.PostgresException>(error).SqlState);
    }

    [Fact]
    public void Stop_of_a_pid_that_does_not_exist_is_object_not_found_and_the_rest_goes_on()
    {
        var result = _host.Invoke("Stop-PuoQuery -Pid 2147483000, 2147483001 -Confirm:$false");
        Assert.Equal(2, result.Errors.Count);
        Assert.All(result.Errors, e => Assert.Equal(ErrorCategory.ObjectNotFound, e.CategoryInfo.Category));
        Assert.All(result.Errors, e => Assert.StartsWith("PuoOps.Postgres.BackendNotFound", e.FullyQualifiedErrorId));
    }

    [Fact]
    public void Unreachable_server_is_a_connection_error_naming_the_target()
    {
        var port = TestEnvironments.ClosedPort();
        var result = _host.Invoke("Get-PuoSlowQuery -Environment (Connect-PuoEnvironment -Name $n -DatabaseUrl $url -SkipCheck -NoDefault -PassThru)",
            new Dictionary<string, object?> { ["n"] = "closed-" + port, ["url"] = $"postgres://puo:Secret987@127.0.0.1:{port}/puo_memo" });
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Postgres.Connect", error.FullyQualifiedErrorId);
        Assert.Contains($"127.0.0.1:{port}", error.ToString());
        Assert.DoesNotContain("Secret987", result.AllText);
    }

    [Fact]
    public void Wrong_password_is_an_authentication_error_and_never_printed()
    {
        var result = _host.Invoke("Get-PuoConnectionStat -Environment (Connect-PuoEnvironment -Name $n -DatabaseUrl $url -SkipCheck -NoDefault -PassThru) -Verbose",
            new Dictionary<string, object?> { ["n"] = "badpw", ["url"] = $"postgres://puo:NotThePassword42@127.0.0.1:{Sandbox.Current.PostgresPort}/puo_memo" });
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.AuthenticationError, error.CategoryInfo.Category);
        Assert.DoesNotContain("NotThePassword42", result.AllText);
    }

    [Fact]
    public void Negative_duration_is_rejected_before_anything_is_sent()
    {
        var result = _host.Invoke("Get-PuoSlowQuery -MinimumDuration -00:00:05");
        Assert.Equal(ErrorCategory.InvalidArgument, Assert.Single(result.Errors).CategoryInfo.Category);
    }

    [Fact]
    public void A_hung_server_gives_a_timeout_error_after_TimeoutSec()
    {
        using var blackhole = new BlackholeServer();
        var result = _host.Invoke("Test-PuoPostgres -TimeoutSec 2 -Environment (Connect-PuoEnvironment -Name $n -DatabaseUrl $url -SkipCheck -NoDefault -PassThru)",
            new Dictionary<string, object?> { ["n"] = "hung", ["url"] = $"postgres://puo:x@127.0.0.1:{blackhole.Port}/puo_memo" });
        var health = Assert.Single(result.Output);
        Assert.Equal("Critical", health.Properties["Status"].Value.ToString());
        Assert.Contains("within 2 s", (string)health.Properties["Message"].Value);
    }

    [Fact]
    public void Ctrl_C_stops_a_cmdlet_waiting_on_a_hung_server_within_a_second()
    {
        using var blackhole = new BlackholeServer();
        _host.Invoke("Connect-PuoEnvironment -Name hung2 -DatabaseUrl $url -SkipCheck -NoDefault",
            new Dictionary<string, object?> { ["url"] = $"postgres://puo:x@127.0.0.1:{blackhole.Port}/puo_memo" }).ThrowIfFailed();
        var (shell, pending) = _host.Start("Get-PuoSlowQuery -Environment hung2 -TimeoutSec 600");
        using (shell)
        {
            Thread.Sleep(700);
            Assert.False(pending.IsCompleted);
            shell.Stop();
            Assert.True(pending.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(5)));
            Assert.Equal(PSInvocationState.Stopped, shell.InvocationStateInfo.State);
        }
    }

    [Fact]
    public void Connection_stat_reports_status_and_breakdown_from_the_default_environment()
    {
        var stat = Assert.Single(_host.Invoke("Get-PuoConnectionStat -WarningPercent 50 -CriticalPercent 90").ThrowIfFailed().Output);
        Assert.Equal("PuoOps.ConnectionStat", stat.TypeNames[0]);
        Assert.True((int)stat.Properties["Total"].Value >= 1);
        Assert.Equal("OK", stat.Properties["Status"].Value.ToString());
    }
}
