using PuoOps.Engine.Environments;
using PuoOps.Engine.Health;
using PuoOps.StandIn;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Health;

/// <summary>Measure-PuoLatency's engine against stand-ins this test controls.</summary>
public sealed class LatencyTests
{
    [Fact]
    public async Task A_closed_loop_sends_exactly_count_requests_and_reports_ordered_percentiles()
    {
        await using var api = await StandInServer.StartAsync("xunit-latency");
        using var env = HttpTestSupport.Environment(api);
        var report = await LatencyService.MeasureAsync(HttpTestSupport.Context(env),
            new LatencyOptions { Url = new Uri(api.BaseUrl, "/health"), Count = 120, Concurrency = 3 });
        Assert.Equal(120, report.Count);
        Assert.Equal(0, report.Errors);
        Assert.Equal(Status.OK, report.Status);
        Assert.Equal("closed loop, concurrency 3", report.Mode);
        Assert.True(report.Min > TimeSpan.Zero);
        var ordered = new[] { report.Min, report.P50, report.P90, report.P95, report.P99, report.P999, report.Max };
        Assert.Equal(ordered.Order(), ordered);
        Assert.True(report.RequestsPerSecond > 0);
        Assert.Equal(120, report.Distribution.Sum(b => b.Count));
        Assert.Equal(120, StandInRequests(await ScrapeAsync(api), "/health"));
    }

    [Fact]
    public async Task An_open_loop_keeps_its_rate_and_its_count_is_rate_times_duration()
    {
        await using var api = await StandInServer.StartAsync("xunit-latency");
        using var env = HttpTestSupport.Environment(api);
        var report = await LatencyService.MeasureAsync(HttpTestSupport.Context(env),
            new LatencyOptions { Url = new Uri(api.BaseUrl, "/"), Rate = 40, Duration = TimeSpan.FromSeconds(2) });
        Assert.Equal(80, report.Count);
        Assert.Equal("open loop, 40/s", report.Mode);
        // 80 requests scheduled over 2 s (the last due at 1.975 s): the achieved rate is the schedule's.
        Assert.InRange(report.RequestsPerSecond, 30, 45);
    }

    [Fact]
    public async Task A_stalling_server_shows_in_the_open_loop_P99_and_hides_from_the_closed_loop()
    {
        await using var api = await StandInServer.StartAsync("xunit-stall");
        api.Behavior = new StandInBehavior { StallMs = 200, PeriodMs = 1000 };
        using var env = HttpTestSupport.Environment(api);
        var url = new Uri(api.BaseUrl, "/health");
        var open = await LatencyService.MeasureAsync(HttpTestSupport.Context(env),
            new LatencyOptions { Url = url, Rate = 100, Duration = TimeSpan.FromSeconds(3) });
        var closed = await LatencyService.MeasureAsync(HttpTestSupport.Context(env),
            new LatencyOptions { Url = url, Concurrency = 1, Duration = TimeSpan.FromSeconds(3) });
        // A fifth of the schedule falls in a freeze and waits up to 200 ms for its end: P99 is near 200 ms.
        Assert.True(open.P99 >= TimeSpan.FromMilliseconds(150), $"open loop P99 {open.P99}");
        Assert.True(open.P90 >= TimeSpan.FromMilliseconds(50), $"open loop P90 {open.P90}");
        // One waiting request per freeze among thousands: the closed loop's P90 never sees the stall.
        Assert.True(closed.Count > 100 && closed.P90 < TimeSpan.FromMilliseconds(50), $"closed loop: {closed.Count} requests, P90 {closed.P90}");
        Assert.True(closed.Max >= TimeSpan.FromMilliseconds(100), $"closed loop max {closed.Max}: the freeze was met at least once");
    }

    [Fact]
    public async Task Failed_requests_count_as_errors_by_kind_and_every_failure_is_critical()
    {
        await using var api = await StandInServer.StartAsync("xunit-500");
        api.Behavior = new StandInBehavior { HealthStatus = 500 };
        using var env = HttpTestSupport.Environment(api);
        var report = await LatencyService.MeasureAsync(HttpTestSupport.Context(env),
            new LatencyOptions { Url = new Uri(api.BaseUrl, "/health"), Count = 20 });
        Assert.Equal(20, report.Count);
        Assert.Equal(20, report.Errors);
        Assert.Equal(Status.Critical, report.Status);
        Assert.Equal(20, report.ErrorsByKind["HTTP 500"]);
        Assert.Equal("Every request failed: HTTP 500 x20.", report.Detail);

        var closed = TestEnvironments.ClosedPort();
        var refused = await LatencyService.MeasureAsync(HttpTestSupport.Context(env, timeoutSeconds: 5),
            new LatencyOptions { Url = new Uri($"http://127.0.0.1:{closed}/"), Count = 5 });
        Assert.Equal(5, refused.ErrorsByKind["ConnectionRefused"]);
    }

    [Fact]
    public async Task Some_failures_are_a_warning_and_a_slow_P99_is_critical_against_the_sla()
    {
        await using var api = await StandInServer.StartAsync("xunit-sla");
        // Frozen 1.5 s of every 3 s, with a 1 s timeout: requests in a freeze time out, the others are answered.
        api.Behavior = new StandInBehavior { StallMs = 1500, PeriodMs = 3000 };
        using var env = HttpTestSupport.Environment(api);
        var mixed = await LatencyService.MeasureAsync(HttpTestSupport.Context(env, timeoutSeconds: 1), new LatencyOptions
        {
            Url = new Uri(api.BaseUrl, "/health"), Duration = TimeSpan.FromSeconds(4), Concurrency = 2, Sla = TimeSpan.FromSeconds(5),
        });
        Assert.True(mixed.Errors > 0 && mixed.Errors < mixed.Count, $"{mixed.Errors} of {mixed.Count} failed");
        Assert.Equal(Status.Warning, mixed.Status);
        Assert.Matches($@"^P99 [\d.,]+ ms is within the SLA of 5000 ms, but {mixed.Errors} of {mixed.Count} failed: timeout x{mixed.Errors}\.$", mixed.Detail);

        api.Behavior = new StandInBehavior { DelayMs = 60 };
        var slow = await LatencyService.MeasureAsync(HttpTestSupport.Context(env), new LatencyOptions
        {
            Url = new Uri(api.BaseUrl, "/health"), Count = 10, Concurrency = 5, Sla = TimeSpan.FromMilliseconds(30),
        });
        Assert.Equal(Status.Critical, slow.Status);
        Assert.True(slow.Min >= TimeSpan.FromMilliseconds(50), $"min {slow.Min}"); // the stand-in's timer may end its 60 ms a little early
        Assert.Matches(@"^P99 \d+ ms is over the SLA of 30 ms\.$", slow.Detail);
    }

    [Fact]
    public async Task A_hung_server_costs_each_request_the_timeout_and_is_reported_as_timeouts()
    {
        await using var api = await StandInServer.StartAsync("xunit-hang");
        api.Behavior = new StandInBehavior { Hang = true };
        using var env = HttpTestSupport.Environment(api);
        var report = await LatencyService.MeasureAsync(HttpTestSupport.Context(env, timeoutSeconds: 1),
            new LatencyOptions { Url = new Uri(api.BaseUrl, "/health"), Count = 4, Concurrency = 4 });
        Assert.Equal(4, report.ErrorsByKind["timeout"]);
        Assert.True(report.P50 >= TimeSpan.FromMilliseconds(950), $"P50 {report.P50}");
        Assert.Equal(Status.Critical, report.Status);
    }

    [Theory]
    [InlineData(0L, null, null, "PuoOps.Latency.Count")]
    [InlineData(null, 0, null, "PuoOps.Latency.Duration")]
    [InlineData(10_000_000L, null, 1.0, "PuoOps.Latency.Count")] // 10 million at 1/s: longer than an hour
    [InlineData(null, null, 0.0, "PuoOps.Latency.Rate")]
    public async Task A_run_that_would_not_be_bounded_is_refused_before_anything_is_sent(long? count, int? seconds, double? rate, string errorId)
    {
        using var env = PuoEnvironment.Create(new EnvironmentSettings { Name = "xunit-bounds" });
        var error = await Assert.ThrowsAsync<PuoException>(() => LatencyService.MeasureAsync(HttpTestSupport.Context(env), new LatencyOptions
        {
            Url = new Uri("http://127.0.0.1:9/"), Count = count, Duration = seconds is { } s ? TimeSpan.FromSeconds(s) : null, Rate = rate,
        }));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public async Task Cancelling_stops_an_open_loop_promptly()
    {
        await using var api = await StandInServer.StartAsync("xunit-cancel");
        using var env = HttpTestSupport.Environment(api);
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var run = LatencyService.MeasureAsync(HttpTestSupport.Context(env, cancellation: stop.Token),
            new LatencyOptions { Url = new Uri(api.BaseUrl, "/health"), Rate = 20, Duration = TimeSpan.FromSeconds(60) });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void The_histogram_keeps_exact_min_and_max_and_percentiles_within_them()
    {
        var histogram = new LatencyHistogram();
        foreach (var ms in Enumerable.Range(1, 1000))
            histogram.Record(TimeSpan.FromMilliseconds(ms));
        Assert.Equal(1000, histogram.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(1), histogram.Min);
        Assert.Equal(TimeSpan.FromMilliseconds(1000), histogram.Max);
        Assert.InRange(histogram.Percentile(50).TotalMilliseconds, 499.5, 501);
        Assert.InRange(histogram.Percentile(99).TotalMilliseconds, 989.5, 991);
        Assert.Equal(histogram.Max, histogram.Percentile(100));
        var buckets = histogram.Distribution(10);
        Assert.Equal(10, buckets.Count);
        Assert.Equal(1000, buckets.Sum(b => b.Count));
        Assert.True(buckets[^1].Count > buckets[0].Count); // log-spaced: the last bucket spans the most values
    }

    private static async Task<string> ScrapeAsync(StandInServer server)
    {
        using var client = new HttpClient();
        return await client.GetStringAsync(new Uri(server.BaseUrl, "/metrics"));
    }

    /// <summary>The stand-in's own count of answered requests to a path (its http_requests_total), read with our parser.</summary>
    private static double StandInRequests(string page, string path) =>
        PrometheusParser.Parse(new StringReader(page), "stand-in", false, (_, m) => throw new InvalidOperationException(m))
            .Where(m => m.Name == "http_requests_total" && (string?)m.Labels["path"] == path).Sum(m => m.Value);
}
