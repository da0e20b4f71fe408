using System.Diagnostics;
using System.Management.Automation;
using PuoOps.StandIn;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Health;

/// <summary>The built module in a runspace: Test-PuoHealth, Get-PuoMetric and Measure-PuoLatency as an operator runs them.</summary>
public sealed class HealthCmdletTests : IDisposable
{
    private readonly ModuleHost _host = new();

    public void Dispose() => _host.Dispose();

    private static Dictionary<string, object?> Vars(params (string Name, object? Value)[] pairs) => pairs.ToDictionary(p => p.Name, p => p.Value);

    [Fact]
    public void Test_health_checks_the_sandbox_and_quiet_says_true()
    {
        var result = _host.Invoke("""
            $checks = Test-PuoHealth -Verbose -WarningLatency 30s
            [pscustomobject]@{ Types = @($checks | ForEach-Object { $_.PSObject.TypeNames[0] } | Sort-Object -Unique)
                               Components = @($checks.Component | ForEach-Object ToString); NotOk = @($checks | Where-Object Status -ne OK | ForEach-Object Component)
                               Quiet = Test-PuoHealth -Quiet; Text = $checks | Out-String -Width 200 }
            """).ThrowIfFailed();
        var row = Assert.Single(result.Output);
        Assert.Equal(["PuoOps.HealthCheck"], ((object[])row.Properties["Types"].Value).Select(o => o.ToString()));
        Assert.Equal(["Api", "Mcp", "Postgres", "Redis", "Docker"], ((object[])row.Properties["Components"].Value).Select(o => o.ToString()));
        var notOk = ((object[])row.Properties["NotOk"].Value).Select(o => o.ToString()).ToList();
        Assert.True(notOk.Count == 0 || (notOk.SequenceEqual(["Docker"]) && !Sandbox.Current.DockerAvailable), string.Join(",", notOk));
        Assert.Equal(Sandbox.Current.DockerAvailable.ToString(), row.Properties["Quiet"].Value.ToString());
        Assert.Contains(result.Verbose, v => v.StartsWith("Api http://127.0.0.1:", StringComparison.Ordinal));
        Assert.DoesNotContain(Sandbox.Current.PostgresPassword, result.AllText + row.Properties["Text"].Value);
        Assert.DoesNotContain(Sandbox.Current.RedisPassword, result.AllText + row.Properties["Text"].Value);
    }

    [Fact]
    public async Task A_bad_url_is_an_invalid_argument_and_the_other_checks_still_run()
    {
        await using var api = await StandInServer.StartAsync("xunit-url");
        var result = _host.Invoke("Test-PuoHealth -Component Redis -Url 'not a url', $good -WarningLatency 30s", Vars(("good", api.BaseUrl + "health")));
        var error = Assert.Single(result.Errors);
        Assert.Equal("PuoOps.Health.Url,PuoOps.Commands.Health.TestPuoHealthCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal("not a url", error.TargetObject);
        Assert.Equal(["Redis:OK", "Url:OK"], result.Output.Select(o => $"{o.Properties["Component"].Value}:{o.Properties["Status"].Value}"));
    }

    [Fact]
    public async Task Quiet_is_false_when_a_check_is_critical_and_the_view_names_it()
    {
        await using var api = await StandInServer.StartAsync("xunit-down");
        api.Behavior = new StandInBehavior { HealthStatus = 503, HealthBody = "{\"status\":\"starting\"}" };
        var result = _host.Invoke("""
            $url = $down + 'health'
            [pscustomobject]@{ Quiet = Test-PuoHealth -Component @() -Url $url -Quiet
                               View = Test-PuoHealth -Component @() -Url $url | Out-String -Width 80 }
            """, Vars(("down", api.BaseUrl.ToString()))).ThrowIfFailed();
        var row = Assert.Single(result.Output);
        Assert.Equal("False", row.Properties["Quiet"].Value.ToString());
        var view = row.Properties["View"].Value.ToString()!.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        Assert.All(view, line => Assert.True(line.Length <= 80, $"wider than 80: {line}"));
        Assert.StartsWith("Status   Component  Latency Target", view[0]);
        Assert.Matches(@"^Critical Url +[\d.,]+m?s 127\.0\.0\.1:\d+/health +HTTP 503 Service\s*$", view[2]);
    }

    [Fact]
    public void Get_metric_filters_by_wildcard_and_a_missing_literal_name_is_not_found()
    {
        var result = _host.Invoke("""
            $null = Test-PuoHealth -Component Api
            Get-PuoMetric -Name 'http_request*', no_such_metric
            """);
        var error = Assert.Single(result.Errors);
        Assert.Equal("PuoOps.Metrics.NotFound,PuoOps.Commands.Health.GetPuoMetricCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Equal("no_such_metric", error.TargetObject);
        var names = result.Output.Select(o => (string)o.Properties["Name"].Value).Distinct().Order().ToList();
        Assert.Equal(["http_request_duration_seconds", "http_request_latency_seconds", "http_requests_total"], names);
        Assert.All(result.Output, o => Assert.Equal(Sandbox.Current.ApiUrl + "/metrics", o.Properties["Source"].Value));
    }

    [Fact]
    public void Get_metric_reads_a_saved_scrape_and_warns_about_a_malformed_line_with_its_number()
    {
        var file = Path.Combine(Path.GetTempPath(), $"puo-scrape-{Guid.NewGuid():N}.txt");
        File.WriteAllText(file, "# TYPE rt histogram\nrt_bucket{le=\"0.1\"} 90\nrt_bucket{le=\"1\"} 100\nrt_bucket{le=\"+Inf\"} 100\nbroken{ 1\nup 1\n");
        try
        {
            var result = _host.Invoke("""
                $rt = Get-PuoMetric -Path $file -Name rt
                [pscustomobject]@{ P50 = $rt.Quantile(0.5); P99 = $rt.Quantile(0.99); Count = $rt.Count; All = @(Get-PuoMetric -Path $file).Count }
                """, Vars(("file", file))).ThrowIfFailed();
            var row = Assert.Single(result.Output);
            Assert.Equal(0.1 * 50 / 90, (double)row.Properties["P50"].Value, 9);
            Assert.Equal(0.1 + 0.9 * 9 / 10, (double)row.Properties["P99"].Value, 9);
            Assert.Equal(100.0, row.Properties["Count"].Value);
            Assert.Equal(2, row.Properties["All"].Value);
            Assert.Equal(2, result.Warnings.Count); // once per Get-PuoMetric call
            Assert.All(result.Warnings, w => Assert.StartsWith($"{file} line 5: ", w));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Get_metric_on_a_page_that_is_not_metrics_or_a_missing_file_is_an_error_naming_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"puo-missing-{Guid.NewGuid():N}.txt");
        var result = _host.Invoke("Get-PuoMetric -Url ($api + '/health'); Get-PuoMetric -Path $missing",
            Vars(("api", Sandbox.Current.ApiUrl), ("missing", missing)));
        Assert.Empty(result.Output);
        Assert.Equal(["PuoOps.Metrics.NotExposition", "PuoOps.Metrics.FileNotFound"], result.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
        Assert.Equal([ErrorCategory.InvalidArgument, ErrorCategory.ObjectNotFound], result.Errors.Select(e => e.CategoryInfo.Category));
        Assert.Equal(missing, result.Errors[1].TargetObject);
    }

    [Fact]
    public void Measure_latency_defaults_to_the_api_health_and_100_requests()
    {
        var report = Assert.Single(_host.Invoke("Measure-PuoLatency").ThrowIfFailed().Output);
        Assert.Equal("PuoOps.LatencyReport", report.TypeNames[0]);
        Assert.Equal(Sandbox.Current.ApiUrl + "/health", report.Properties["Url"].Value);
        Assert.Equal(100L, report.Properties["Count"].Value);
        Assert.Equal(0L, report.Properties["Errors"].Value);
        Assert.Equal("closed loop, concurrency 1", report.Properties["Mode"].Value);
    }

    [Fact]
    public void Measure_latency_refuses_an_unbounded_run_and_a_bad_url_before_sending()
    {
        var result = _host.Invoke("Measure-PuoLatency -Rate 1 -Count 10000000; Measure-PuoLatency -Url 'ftp://x/'");
        Assert.Equal(["PuoOps.Latency.Count", "PuoOps.Latency.Url"], result.Errors.Select(e => e.FullyQualifiedErrorId.Split(',')[0]));
        Assert.All(result.Errors, e => Assert.Equal(ErrorCategory.InvalidArgument, e.CategoryInfo.Category));
        Assert.Empty(result.Output);
    }

    [Fact]
    public void Ctrl_C_stops_a_long_latency_run_within_a_second() => _host.AssertCtrlCStops("Measure-PuoLatency -Rate 20 -Duration 2m");

    [Fact]
    public async Task Ctrl_C_stops_a_health_check_that_waits_on_a_hung_endpoint()
    {
        await using var hung = await StandInServer.StartAsync("xunit-hung");
        hung.Behavior = new StandInBehavior { Hang = true };
        _host.AssertCtrlCStops($"Test-PuoHealth -Url '{hung.BaseUrl}health' -TimeoutSec 600");
    }
}
