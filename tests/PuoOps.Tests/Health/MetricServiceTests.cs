using System.Collections.Specialized;
using PuoOps.Engine.Health;
using PuoOps.StandIn;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Health;

/// <summary>Get-PuoMetric's sources: live scrapes of stand-ins and saved files.</summary>
public sealed class MetricServiceTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("puo-metrics-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task The_sandbox_api_metrics_page_has_a_counter_a_histogram_a_summary_and_escaped_labels()
    {
        using var env = TestEnvironments.Sandbox();
        var ctx = TestEnvironments.Context(env);
        Assert.Equal(new Uri(Sandbox.Current.ApiUrl + "/metrics"), MetricService.DefaultUrl(env));
        using var page = await MetricService.ScrapeAsync(ctx, MetricService.DefaultUrl(env));
        var warnings = new List<string>();
        var metrics = page.Read(warnings.Add).ToList();
        Assert.Empty(warnings);
        Assert.False(page.OpenMetrics);
        var histogram = Assert.Single(metrics, m => m.Name == "http_request_duration_seconds");
        Assert.Equal("histogram", histogram.Type);
        Assert.Equal(13, histogram.Buckets.Count);
        Assert.True(double.IsPositiveInfinity(histogram.Buckets[^1].UpperBound));
        Assert.Equal(histogram.Count, histogram.Buckets[^1].Count);
        Assert.InRange(histogram.Quantile(0.5), 0, 10);
        var summary = Assert.Single(metrics, m => m.Name == "http_request_latency_seconds");
        Assert.Equal([0.5, 0.9, 0.99], summary.Quantiles.Select(q => q.Quantile));
        Assert.Contains(metrics, m => m.Name == "http_requests_total" && m.Type == "counter" && (string?)m.Labels["path"] == "/health");
        var info = Assert.Single(metrics, m => m.Name == "puo_standin_info");
        Assert.Equal("a \"stand-in\" at C:\\puo", info.Labels["note"]);
        Assert.Equal("What the stand-in is doing (\\ and \n are escaped in HELP).", info.Help);
        Assert.All(metrics, m => Assert.Equal(page.Source, m.Source));
    }

    [Fact]
    public async Task A_metrics_url_that_answers_an_error_or_json_is_an_error_naming_it()
    {
        await using var api = await StandInServer.StartAsync("xunit-metrics");
        using var env = HttpTestSupport.Environment(api);
        var missing = await Assert.ThrowsAsync<PuoException>(() => MetricService.ScrapeAsync(HttpTestSupport.Context(env), new Uri(api.BaseUrl, "/nothing")));
        Assert.Equal("PuoOps.Metrics.Status", missing.ErrorId);
        Assert.StartsWith($"{api.BaseUrl}nothing answered HTTP 404 Not Found, not a metrics page.", missing.Message);
        var json = await Assert.ThrowsAsync<PuoException>(() => MetricService.ScrapeAsync(HttpTestSupport.Context(env), new Uri(api.BaseUrl, "/health")));
        Assert.Equal("PuoOps.Metrics.NotExposition", json.ErrorId);
        Assert.Contains("(it is application/json)", json.Message);
        var closed = TestEnvironments.ClosedPort();
        var refused = await Assert.ThrowsAsync<PuoException>(() => MetricService.ScrapeAsync(HttpTestSupport.Context(env), new Uri($"http://127.0.0.1:{closed}/metrics")));
        Assert.Equal("PuoOps.Http.Connect", refused.ErrorId);
        Assert.Equal(ErrorKind.Connection, refused.Kind);
    }

    [Fact]
    public void A_saved_scrape_is_read_and_one_ending_in_EOF_is_OpenMetrics()
    {
        var text = Path.Combine(_folder, "text.prom");
        File.WriteAllText(text, "# TYPE up gauge\nup 1 1700000000000\n");
        var open = Path.Combine(_folder, "open.txt");
        File.WriteAllText(open, "# TYPE up gauge\nup 1 1700000000\n# EOF\n");
        using (var page = MetricService.Open(text))
        {
            Assert.False(page.OpenMetrics);
            Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), Assert.Single(page.Read(_ => { })).Timestamp);
        }
        using (var page = MetricService.Open(open))
        {
            Assert.True(page.OpenMetrics);
            Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), Assert.Single(page.Read(_ => { })).Timestamp);
        }
    }

    [Fact]
    public void A_missing_file_or_a_folder_is_an_error_naming_it()
    {
        var missing = Path.Combine(_folder, "nope.txt");
        var notFound = Assert.Throws<PuoException>(() => MetricService.Open(missing));
        Assert.Equal((ErrorKind.NotFound, "PuoOps.Metrics.FileNotFound", missing), (notFound.Kind, notFound.ErrorId, notFound.Target));
        Assert.Contains(missing, notFound.Message);
        var folder = Assert.Throws<PuoException>(() => MetricService.Open(_folder));
        Assert.Equal((ErrorKind.InvalidArgument, "PuoOps.Metrics.FileRead"), (folder.Kind, folder.ErrorId));
        Assert.Contains("is a folder", folder.Message);
    }

    [Fact]
    public void Labels_keep_the_page_order()
    {
        using var page = new MetricPage("x", new StringReader("m{z=\"1\",a=\"2\",m=\"3\"} 1\n"), false, false);
        var labels = Assert.Single(page.Read(_ => { })).Labels;
        Assert.Equal(["z", "a", "m"], labels.Keys.Cast<string>());
        Assert.IsType<OrderedDictionary>(labels);
    }
}
