using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace PuoOps.StandIn;

/// <summary>
/// The stand-in's /metrics page in the Prometheus text format 0.0.4, as a Python or Go service would expose it:
/// requests by path and code (counter), request duration (histogram and summary), process gauges, and an info
/// metric whose label shows the current behaviour (with quotes and a backslash, escaped as the format says).
/// </summary>
internal sealed class StandInMetrics(string service)
{
    private static readonly double[] Bounds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private const int Window = 1024;

    private readonly ConcurrentDictionary<(string Path, int Code), long> _requests = new();
    private readonly long[] _buckets = new long[Bounds.Length];
    private readonly double[] _recent = new double[Window];
    private readonly object _gate = new();
    private readonly double _startTime = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
    private long _count;
    private double _sum;

    public void Observe(string path, int code, TimeSpan elapsed)
    {
        _requests.AddOrUpdate((path, code), 1, (_, n) => n + 1);
        var seconds = elapsed.TotalSeconds;
        lock (_gate)
        {
            for (var i = 0; i < Bounds.Length; i++)
                if (seconds <= Bounds[i])
                    _buckets[i]++;
            _recent[_count % Window] = seconds;
            _count++;
            _sum += seconds;
        }
    }

    public string Render(StandInBehavior behavior)
    {
        var page = new StringBuilder();
        var label = $"service=\"{service}\"";
        page.Append("# HELP http_requests_total Requests served, by path and status code.\n# TYPE http_requests_total counter\n");
        foreach (var ((path, code), n) in _requests.OrderBy(r => r.Key.Path, StringComparer.Ordinal).ThenBy(r => r.Key.Code))
            page.Append(CultureInfo.InvariantCulture, $"http_requests_total{{{label},path=\"{Escape(path)}\",code=\"{code}\"}} {n}\n");
        long count;
        double sum;
        long[] buckets;
        double[] recent;
        lock (_gate)
        {
            (count, sum, buckets) = (_count, _sum, (long[])_buckets.Clone());
            recent = _recent.Take((int)Math.Min(_count, Window)).Order().ToArray();
        }
        page.Append("# HELP http_request_duration_seconds Time to answer a request.\n# TYPE http_request_duration_seconds histogram\n");
        for (var i = 0; i < Bounds.Length; i++)
            page.Append(CultureInfo.InvariantCulture, $"http_request_duration_seconds_bucket{{{label},le=\"{Bounds[i]}\"}} {buckets[i]}\n");
        page.Append(CultureInfo.InvariantCulture, $"http_request_duration_seconds_bucket{{{label},le=\"+Inf\"}} {count}\n");
        page.Append(CultureInfo.InvariantCulture, $"http_request_duration_seconds_sum{{{label}}} {sum}\n");
        page.Append(CultureInfo.InvariantCulture, $"http_request_duration_seconds_count{{{label}}} {count}\n");
        page.Append("# HELP http_request_latency_seconds Time to answer a request, over the last 1024 requests.\n# TYPE http_request_latency_seconds summary\n");
        foreach (var q in new[] { 0.5, 0.9, 0.99 })
        {
            var value = recent.Length == 0 ? double.NaN : recent[(int)Math.Min(recent.Length - 1, Math.Floor(q * recent.Length))];
            page.Append(CultureInfo.InvariantCulture, $"http_request_latency_seconds{{{label},quantile=\"{q}\"}} {Format(value)}\n");
        }
        page.Append(CultureInfo.InvariantCulture, $"http_request_latency_seconds_sum{{{label}}} {recent.Sum()}\n");
        page.Append(CultureInfo.InvariantCulture, $"http_request_latency_seconds_count{{{label}}} {recent.Length}\n");
        page.Append("# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n# TYPE process_start_time_seconds gauge\n");
        page.Append(CultureInfo.InvariantCulture, $"process_start_time_seconds {_startTime}\n");
        page.Append("# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n");
        page.Append(CultureInfo.InvariantCulture, $"process_resident_memory_bytes {Environment.WorkingSet}\n");
        page.Append("# HELP puo_standin_info What the stand-in is doing (\\\\ and \\n are escaped in HELP).\n# TYPE puo_standin_info gauge\n");
        page.Append(CultureInfo.InvariantCulture, $"puo_standin_info{{{label},behavior=\"{Escape(behavior.ToString())}\",note=\"a \\\"stand-in\\\" at C:\\\\puo\"}} 1\n");
        return page.ToString();
    }

    private static string Format(double value) => double.IsNaN(value) ? "NaN" : value.ToString(CultureInfo.InvariantCulture);

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
