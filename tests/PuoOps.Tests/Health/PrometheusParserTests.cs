using System.Collections;
using System.Globalization;
using PuoOps.Engine.Health;

namespace PuoOps.Tests.Health;

/// <summary>
/// The exposition-format parser against a table of edge cases: each case is a page, whether it is OpenMetrics, the
/// series it must yield (rendered one per line by <see cref="Render"/>) and the warnings it must give (line number and
/// a part of the message).
/// </summary>
public sealed class PrometheusParserTests
{
    public sealed record Case(string Name, string Page, bool OpenMetrics, string[] Series, string[] Warnings)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Case> Cases => new()
    {
        new("counter with HELP and TYPE",
            "# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"get\",code=\"200\"} 1027\n",
            false, ["counter http_requests_total{method=get,code=200} 1027 help='Requests served.'"], []),
        new("label escapes: only backslash, quote and newline",
            "msg{path=\"C:\\\\logs\",quote=\"say \\\"hi\\\"\",text=\"two\\nlines\"} 1\n",
            false, ["untyped msg{path=C:\\logs,quote=say \"hi\",text=two<LF>lines} 1"], []),
        new("any other escape is malformed; the rest is read",
            "a{x=\"tab\\there\"} 1\nb 2\n",
            false, ["untyped b 2"], ["1:'\\t'"]),
        new("NaN, +Inf and -Inf values",
            "# TYPE g gauge\ng{k=\"nan\"} NaN\ng{k=\"pos\"} +Inf\ng{k=\"neg\"} -Inf\ng{k=\"exp\"} -1.5e-3\n",
            false, ["gauge g{k=nan} NaN", "gauge g{k=pos} +Inf", "gauge g{k=neg} -Inf", "gauge g{k=exp} -0.0015"], []),
        new("integer millisecond timestamps, also negative",
            "t 1 1700000000123\nu 2 -1000\n",
            false, ["untyped t 1 @1700000000123", "untyped u 2 @-1000"], []),
        new("a timestamp with a fraction is seconds",
            "t 1 1700000000.5\n",
            false, ["untyped t 1 @1700000000500"], []),
        new("a timestamp that is not a number",
            "t 1 yesterday\nu 2\n",
            false, ["untyped u 2"], ["1:timestamp 'yesterday'"]),
        new("HELP text escapes",
            "# HELP h A \\\\ backslash\\nand a line.\nh 1\n",
            false, ["untyped h 1 help='A \\ backslash<LF>and a line.'"], []),
        new("TYPE after the samples is refused",
            "late 1\n# TYPE late gauge\nother 2\n",
            false, ["untyped late 1", "untyped other 2"], ["2:comes after its samples"]),
        new("a second TYPE and a second HELP are refused, the first counts",
            "# TYPE d gauge\n# TYPE d counter\n# HELP d one\n# HELP d two\nd 3\n",
            false, ["gauge d 3 help='one'"], ["2:second # TYPE", "4:second # HELP"]),
        new("an unknown type is refused",
            "# TYPE w widget\nw 1\n",
            false, ["untyped w 1"], ["1:'widget' is not a metric type"]),
        new("comments and blank lines are skipped, CRLF is fine",
            "# just a comment\r\n\r\n   \r\nplain 7\r\n",
            false, ["untyped plain 7"], []),
        new("label list with spaces and a trailing comma",
            "s{ a = \"1\" , b=\"2\", } 3\n",
            false, ["untyped s{a=1,b=2} 3"], []),
        new("histogram with buckets, count, sum",
            "# HELP rt Request time.\n# TYPE rt histogram\nrt_bucket{le=\"0.1\"} 10\nrt_bucket{le=\"0.5\"} 20\nrt_bucket{le=\"1\"} 30\nrt_bucket{le=\"+Inf\"} 40\nrt_sum 17.5\nrt_count 40\n",
            false, ["histogram rt 40 count=40 sum=17.5 buckets=0.1:10,0.5:20,1:30,+Inf:40 help='Request time.'"], []),
        new("histogram series per label set; le is not a label",
            "# TYPE rt histogram\nrt_bucket{svc=\"a\",le=\"1\"} 1\nrt_bucket{svc=\"a\",le=\"+Inf\"} 2\nrt_count{svc=\"a\"} 2\nrt_bucket{svc=\"b\",le=\"1\"} 5\nrt_bucket{svc=\"b\",le=\"+Inf\"} 5\nrt_count{svc=\"b\"} 5\n",
            false, ["histogram rt{svc=a} 2 count=2 buckets=1:1,+Inf:2", "histogram rt{svc=b} 5 count=5 buckets=1:5,+Inf:5"], []),
        new("histogram without +Inf: warned, its count taken from _count",
            "# TYPE rt histogram\nrt_bucket{le=\"1\"} 3\nrt_count 3\n",
            false, ["histogram rt 3 count=3 buckets=1:3"], ["2:no le=\"+Inf\" bucket"]),
        new("histogram bucket without le, and with a bad le",
            "# TYPE rt histogram\nrt_bucket 3\nrt_bucket{le=\"big\"} 4\nrt_bucket{le=\"+Inf\"} 4\n",
            false, ["histogram rt 4 count=4 buckets=+Inf:4"], ["2:needs a le label", "3:le=\"big\" is not a number"]),
        new("histogram buckets that go down are warned",
            "# TYPE rt histogram\nrt_bucket{le=\"1\"} 5\nrt_bucket{le=\"2\"} 4\nrt_bucket{le=\"+Inf\"} 5\n",
            false, ["histogram rt 5 count=5 buckets=1:5,2:4,+Inf:5"], ["2:go down"]),
        new("a histogram has no sample of its bare name",
            "# TYPE rt histogram\nrt 1\nrt_bucket{le=\"+Inf\"} 1\n",
            false, ["histogram rt 1 count=1 buckets=+Inf:1"], ["2:no sample of that bare name"]),
        new("summary with quantiles",
            "# TYPE lat summary\nlat{quantile=\"0.5\"} 0.012\nlat{quantile=\"0.99\"} 0.25\nlat_sum 8.4\nlat_count 500\n",
            false, ["summary lat 500 count=500 sum=8.4 quantiles=0.5:0.012,0.99:0.25"], []),
        new("samples of one family that are not grouped are warned and still read",
            "# TYPE a gauge\na{x=\"1\"} 1\nb 2\na{x=\"2\"} 3\n",
            false, ["gauge a{x=1} 1", "untyped b 2", "gauge a{x=2} 3"], ["4:not grouped together"]),
        new("the same series twice: the first counts",
            "c{k=\"v\"} 1\nc{k=\"v\"} 2\n",
            false, ["untyped c{k=v} 1"], ["2:second c sample"]),
        new("malformed lines: no value, open brace, bad value, duplicate label, bad name, HTML",
            "nov\nbr{a=\"1\" 2\nbad abc\ndup{a=\"1\",a=\"2\"} 3\nbad-name 4\n<html>\nok 5\n",
            false, ["untyped ok 5"], ["1:has no value", "2:Expected ','", "3:value 'abc' of bad is not a number", "4:appears twice", "5:character a metric name", "6:must start with a metric name"]),
        new("an unclosed label value",
            "u{a=\"open} 1\n",
            false, [], ["1:not closed"]),
        new("a quoted metric name inside the braces (Prometheus 3)",
            "{\"my.dotted.metric\", code=\"200\"} 4\n",
            false, ["untyped my.dotted.metric{code=200} 4"], []),
        new("python client counter in text format: _created beside _total",
            "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total 3.0\njobs_created 1.7000000005e+09\n",
            false, ["counter jobs_total 3 created=1700000000500 help='Jobs run.'"], []),
        new("OpenMetrics: counter family, _created, exemplar, UNIT, second timestamps, EOF",
            "# TYPE acme_http_router_request_seconds summary\n# UNIT acme_http_router_request_seconds seconds\n"
            + "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
            + "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
            + "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
            + "# TYPE go_goroutines gauge\ngo_goroutines 69 1520879607\n"
            + "# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\nfoo_created 1520872607.123\n# EOF\n",
            true, ["summary acme_http_router_request_seconds{path=/api/v1,method=GET} 807283 count=807283 sum=9036.32 created=1605281325000 unit=seconds",
                   "gauge go_goroutines 69 @1520879607000",
                   "counter foo_total 17 @1520879607789 created=1520872607123 exemplar={trace_id=KOO5S4vxi0o}0.67"], []),
        new("OpenMetrics: histogram bucket exemplars, info and stateset, unknown type",
            "# TYPE req histogram\nreq_bucket{le=\"0.5\"} 2 # {trace_id=\"a\"} 0.3 1520879607.1\nreq_bucket{le=\"+Inf\"} 3\nreq_count 3\nreq_sum 1.2\n"
            + "# TYPE build info\nbuild_info{version=\"1.2\"} 1\n# TYPE state stateset\nstate{state=\"up\"} 1\nstate{state=\"down\"} 0\nmystery 5\n# EOF\n",
            true, ["histogram req 3 count=3 sum=1.2 buckets=0.5:2[trace_id=a],+Inf:3", "info build_info{version=1.2} 1",
                   "stateset state{state=up} 1", "stateset state{state=down} 0", "unknown mystery 5"], []),
        new("text after # EOF is ignored",
            "a 1\n# EOF\nb 2\n",
            true, ["unknown a 1"], ["3:after # EOF"]),
        new("a _created sample without its value",
            "# TYPE c counter\nc_created 1700000000\n",
            false, [], ["2:only a _created sample"]),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parses_the_page_as_the_format_says(Case @case)
    {
        var warnings = new List<string>();
        var metrics = PrometheusParser.Parse(new StringReader(@case.Page), "test", @case.OpenMetrics, (line, message) => warnings.Add($"{line}:{message}")).ToList();
        Assert.Equal(@case.Series, metrics.Select(Render).ToArray());
        Assert.Equal(@case.Warnings.Length, warnings.Count);
        foreach (var (expected, actual) in @case.Warnings.Zip(warnings))
        {
            var line = expected[..expected.IndexOf(':')];
            Assert.StartsWith(line + ":", actual);
            Assert.Contains(expected[(line.Length + 1)..], actual);
        }
    }

    [Fact]
    public void Series_come_family_by_family_as_the_page_is_read()
    {
        // A reader that fails when asked for the line after the first family: the family must already be out.
        var lines = new Queue<string>(["# TYPE a gauge", "a 1", "b 2"]);
        var seen = new List<string>();
        using var enumerator = PrometheusParser.Parse(new LineReader(lines), "test", false, (_, _) => { }).GetEnumerator();
        Assert.True(enumerator.MoveNext());
        seen.Add(enumerator.Current.Name);
        Assert.Equal(["a"], seen);
        Assert.Empty(lines); // "b 2" was read to see that family a ended, nothing more
    }

    [Theory]
    [InlineData(0.25, 0.1)]
    [InlineData(0.5, 0.5)]
    [InlineData(0.6, 0.7)]
    [InlineData(0.75, 1.0)]
    [InlineData(0.9, 1.0)] // in the +Inf bucket: the highest finite bound, as PromQL answers
    [InlineData(0.0, 0.0)]
    public void Histogram_quantile_interpolates_within_a_bucket_like_PromQL(double q, double expected)
    {
        var histogram = Assert.Single(PrometheusParser.Parse(new StringReader(
            "# TYPE rt histogram\nrt_bucket{le=\"0.1\"} 10\nrt_bucket{le=\"0.5\"} 20\nrt_bucket{le=\"1\"} 30\nrt_bucket{le=\"+Inf\"} 40\nrt_count 40\n"),
            "test", false, (_, _) => { }));
        Assert.Equal(expected, histogram.Quantile(q), 9);
    }

    [Fact]
    public void Quantile_edges_NaN_without_observations_infinities_outside_0_to_1_and_summary_lookups()
    {
        var page = "# TYPE e histogram\ne_bucket{le=\"1\"} 0\ne_bucket{le=\"+Inf\"} 0\n# TYPE s summary\ns{quantile=\"0.99\"} 0.25\ns_count 4\n# TYPE g gauge\ng 1\n";
        var metrics = PrometheusParser.Parse(new StringReader(page), "test", false, (_, _) => { }).ToDictionary(m => m.Name);
        Assert.True(double.IsNaN(metrics["e"].Quantile(0.5)));
        Assert.Equal(double.NegativeInfinity, metrics["e"].Quantile(-0.1));
        Assert.Equal(double.PositiveInfinity, metrics["e"].Quantile(1.5));
        Assert.Equal(0.25, metrics["s"].Quantile(0.99));
        Assert.True(double.IsNaN(metrics["s"].Quantile(0.5)));
        Assert.True(double.IsNaN(metrics["g"].Quantile(0.5)));
    }

    [Fact]
    public void A_page_that_is_not_the_format_is_an_error_not_a_list_of_warnings()
    {
        using var page = new MetricPage("page.html", new StringReader("<!DOCTYPE html>\n<html><body>Not found</body></html>\n"), false, false);
        var warnings = new List<string>();
        var error = Assert.Throws<PuoException>(() => page.Read(warnings.Add).ToList());
        Assert.Equal("PuoOps.Metrics.NotExposition", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("page.html", error.Message);
        Assert.Contains("line 1", error.Message);
        Assert.Empty(warnings);
    }

    [Fact]
    public void Malformed_lines_beyond_ten_are_counted_not_listed()
    {
        var text = "good 1\n" + string.Concat(Enumerable.Range(0, 25).Select(i => $"bad line {i}\n"));
        using var page = new MetricPage("scrape.txt", new StringReader(text), false, false);
        var warnings = new List<string>();
        Assert.Single(page.Read(warnings.Add));
        Assert.Equal(MetricPage.MaxWarnings + 1, warnings.Count);
        Assert.StartsWith("scrape.txt line 2:", warnings[0]);
        Assert.Equal("scrape.txt: 15 more malformed line(s) were skipped.", warnings[^1]);
    }

    /// <summary>One line per series: type, name, labels, value, then whatever else it carries.</summary>
    private static string Render(Metric m)
    {
        var text = $"{m.Type} {m.Name}{Labels(m.Labels)} {Number(m.Value)}";
        if (m.Timestamp is { } t)
            text += $" @{t.ToUnixTimeMilliseconds()}";
        if (m.Count is { } count && m.Type is "histogram" or "summary" or "gaugehistogram")
            text += $" count={Number(count)}";
        if (m.Sum is { } sum)
            text += $" sum={Number(sum)}";
        if (m.Buckets.Count > 0)
            text += " buckets=" + string.Join(",", m.Buckets.Select(b => $"{Number(b.UpperBound)}:{Number(b.Count)}" + (b.Exemplar is null ? "" : $"[{string.Join(",", b.Exemplar.Labels.Cast<DictionaryEntry>().Select(e => $"{e.Key}={e.Value}"))}]")));
        if (m.Quantiles.Count > 0)
            text += " quantiles=" + string.Join(",", m.Quantiles.Select(q => $"{Number(q.Quantile)}:{Number(q.Value)}"));
        if (m.Created is { } created)
            text += $" created={created.ToUnixTimeMilliseconds()}";
        if (m.Exemplar is { } exemplar)
            text += $" exemplar={Labels(exemplar.Labels)}{Number(exemplar.Value)}";
        if (m.Unit is not null)
            text += $" unit={m.Unit}";
        if (m.Help is not null)
            text += $" help='{m.Help.Replace("\n", "<LF>")}'";
        return text;
    }

    private static string Labels(System.Collections.Specialized.OrderedDictionary labels) =>
        labels.Count == 0 ? "" : "{" + string.Join(",", labels.Cast<DictionaryEntry>().Select(e => $"{e.Key}={((string)e.Value!).Replace("\n", "<LF>")}")) + "}";

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : value.ToString(CultureInfo.InvariantCulture);

    private sealed class LineReader(Queue<string> lines) : TextReader
    {
        public override string? ReadLine() => lines.TryDequeue(out var line) ? line : null;
    }
}
