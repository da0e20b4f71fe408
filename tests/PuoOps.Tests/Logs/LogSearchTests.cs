using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using PuoOps.Engine;
using PuoOps.Engine.Logs;

namespace PuoOps.Tests.Logs;

/// <summary>Search-PuoLog's engine: durations as logs write them, line times, patterns per line, windows, and grep.</summary>
public sealed class LogSearchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-logsearch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private List<LogLine> Search(string text, LogSearchOptions options)
    {
        var path = Path.Combine(_dir, "search.log");
        File.WriteAllText(path, text);
        return LogSearch.Search(path, options, new LogScanStats(), null, CancellationToken.None).ToList();
    }

    [Theory]
    [InlineData("op=search duration=1234ms status=ok", 1234.0)]
    [InlineData("op=search duration=1.2s", 1200.0)]
    [InlineData("op=search duration=1234", 1234.0)] // a bare number outside JSON: milliseconds, as the runbook's grep
    [InlineData("op=search duration=1234 status=ok", 1234.0)]
    [InlineData("op=search duration_ms=1234", 1234.0)]
    [InlineData("op=search durationMs: 12", 12.0)]
    [InlineData("op=search duration_seconds=2", 2000.0)]
    [InlineData("op=search duration_us=1500", 1.5)]
    [InlineData("op=search duration=500µs", 0.5)]
    [InlineData("{\"op\": \"search\", \"duration\": 1.234}", 1234.0)] // a bare JSON value: seconds
    [InlineData("{\"op\": \"search\", \"duration_ms\": 1234}", 1234.0)]
    [InlineData("{\"op\": \"search\", \"duration\": \"1.5s\"}", 1500.0)]
    [InlineData("Duration: 2.5 s", 2500.0)]
    [InlineData("request took 1.2s", 1200.0)]
    [InlineData("request took 350 ms", 350.0)]
    [InlineData("Took 2 minutes", 120000.0)]
    [InlineData("retry took 3 attempts", 3.0)] // an unknown word after the number is not a unit
    [InlineData("db_duration=5ms total duration=1500ms cache_duration=20ms", 1500.0)] // the longest
    [InlineData("mistook 5s for 5m", null)]
    [InlineData("durations=[1200, 1300]", null)]
    [InlineData("duration_bucket=5", null)]
    [InlineData("duration=12x", null)]
    [InlineData("duration unknown", null)]
    [InlineData("no duration here at all: 123456", null)]
    public void Reads_durations_as_logs_write_them(string line, double? milliseconds)
    {
        var found = Assert.Single(Search(line + "\n", new LogSearchOptions()));
        Assert.Equal(milliseconds is { } ms ? TimeSpan.FromMilliseconds(ms) : null, found.Duration);
    }

    [Fact]
    public void SlowerThan_keeps_the_lines_with_a_long_enough_duration_in_any_spelling()
    {
        var text = """
            fast duration=999ms
            slow duration=1000ms
            slow json {"duration": 1.5}
            slow took 2s
            fast took 20ms
            fast duration=12 but request=123456
            slow db_duration=1ms duration_ms=4000

            """;
        var found = Search(text, new LogSearchOptions(SlowerThan: TimeSpan.FromSeconds(1)));
        Assert.Equal([2L, 3L, 4L, 7L], found.Select(l => l.LineNumber));
        Assert.All(found, l => Assert.StartsWith("slow", l.Line));
        Assert.Equal(TimeSpan.FromSeconds(4), found[^1].Duration);
    }

    [Theory]
    [InlineData("2026-11-29T10:00:00Z op=x", "2026-11-29T10:00:00+00:00")]
    [InlineData("2026-11-29T10:00:00.250+02:00 op=x", "2026-11-29T10:00:00.250+02:00")]
    [InlineData("2026-11-29T10:00:00-0530 op=x", "2026-11-29T10:00:00-05:30")]
    [InlineData("203.0.113.7 - - [29/Nov/2026:10:00:00 +0100] \"GET / HTTP/1.1\" 200 1", "2026-11-29T10:00:00+01:00")]
    [InlineData("{\"level\":\"info\",\"timestamp\":\"2026-11-29T10:00:00.5Z\",\"duration\":1}", "2026-11-29T10:00:00.500+00:00")]
    public void Reads_the_time_of_a_line_from_its_first_timestamp(string line, string expected)
    {
        var found = Assert.Single(Search(line + "\n", new LogSearchOptions()));
        Assert.Equal(DateTimeOffset.Parse(expected), found.Time);
    }

    [Theory]
    [InlineData("2026-11-29 10:00:00,123 - api - INFO - ok", 2026, 11, 29, 10, 0, 0, 123)] // Python's logging
    [InlineData("2026/11/29 10:00:00 [error] 12#12: upstream timed out", 2026, 11, 29, 10, 0, 0, 0)] // nginx's error log
    public void A_time_without_an_offset_is_local_time(string line, int y, int mo, int d, int h, int mi, int s, int ms)
    {
        var found = Assert.Single(Search(line + "\n", new LogSearchOptions()));
        var local = new DateTime(y, mo, d, h, mi, s, ms, DateTimeKind.Unspecified);
        Assert.Equal(new DateTimeOffset(local, TimeZoneInfo.Local.GetUtcOffset(local)), found.Time);
    }

    [Theory]
    [InlineData("version 2026-11-29 released")] // a date without a time
    [InlineData("9999-99-99T99:99:99Z")]
    [InlineData("no time at all")]
    public void A_line_without_a_timestamp_has_no_time(string line) =>
        Assert.Null(Assert.Single(Search(line + "\n", new LogSearchOptions())).Time);

    [Fact]
    public void Since_and_Until_keep_the_lines_in_the_window_and_never_those_without_a_time()
    {
        var text = "2026-11-29T09:59:59Z early\n2026-11-29T10:00:00Z first\nno time\n2026-11-29T10:30:00Z middle\n2026-11-29T11:00:00Z last\n2026-11-29T11:00:01Z late\n";
        var found = Search(text, new LogSearchOptions(Since: DateTimeOffset.Parse("2026-11-29T10:00:00Z"), Until: DateTimeOffset.Parse("2026-11-29T11:00:00Z")));
        Assert.Equal(["first", "middle", "last"], found.Select(l => l.Line.Split(' ')[1]));
    }

    [Theory]
    [InlineData("^error", false, new long[] { 1, 3 })]
    [InlineData("^error", true, new long[] { 1 })]
    [InlineData("failed$", false, new long[] { 2, 4 })]
    [InlineData(@"timeout\s+retry", false, new long[0])] // \s must not reach across lines
    [InlineData(@"^$", false, new long[] { 5 })]
    [InlineData("e", false, new long[] { 1, 2, 3, 4 })]
    public void A_pattern_is_matched_per_line_like_grep_also_with_crlf(string pattern, bool caseSensitive, long[] expected)
    {
        var text = "error: connect timeout\r\nrequest failed\r\nERROR: timeout\r\nretry failed\r\n\r\nok\r\n";
        var found = Search(text, new LogSearchOptions(Pattern: LogSearch.Pattern(pattern, caseSensitive)));
        Assert.Equal(expected, found.Select(l => l.LineNumber));
        Assert.All(found, l => Assert.DoesNotContain('\r', l.Line));
    }

    [Fact]
    public void A_pattern_finds_exactly_the_lines_a_per_line_regex_finds()
    {
        // Lines of random words (non-ASCII too): the chunk-wide search must agree with matching each line alone.
        var random = new Random(15);
        string[] words = ["alpha", "beta", "gamma", "delta", "épsilon", "ζeta", "duration=1200ms", "  ", "x"];
        var lines = Enumerable.Range(0, 30_000).Select(_ => string.Join(' ', Enumerable.Range(0, random.Next(0, 8)).Select(_ => words[random.Next(words.Length)]))).ToList();
        var text = string.Join('\n', lines) + "\n";
        foreach (var pattern in new[] { "gamma", @"^beta\b", @"x$", @"é.silon\s+ζ", @"(alpha|delta) (alpha|delta)", @"^\s*$", @"\d{4}" })
        {
            var regex = new Regex(pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            var expected = lines.Select((l, i) => (l, i)).Where(x => regex.IsMatch(x.l)).Select(x => (long)x.i + 1).ToList();
            var found = Search(text, new LogSearchOptions(Pattern: LogSearch.Pattern(pattern, false)));
            Assert.Equal(expected, found.Select(l => l.LineNumber));
        }
    }

    [Fact]
    public void Pattern_and_SlowerThan_together_need_both()
    {
        var found = Search("api duration=2s\nworker duration=2s\napi duration=2ms\n",
            new LogSearchOptions(Pattern: LogSearch.Pattern("^api", false), SlowerThan: TimeSpan.FromSeconds(1)));
        Assert.Equal([1L], found.Select(l => l.LineNumber));
    }

    [Fact]
    public void An_invalid_pattern_is_InvalidArgument()
    {
        var error = Assert.Throws<PuoException>(() => LogSearch.Pattern("duration=(", false));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("PuoOps.Logs.InvalidPattern", error.ErrorId);
    }

    [Fact]
    public void SlowerThan_one_second_finds_the_lines_grep_finds_in_a_log_written_in_milliseconds()
    {
        // The runbook's grep reads four digits after "duration" as a second or more; in a log that writes every
        // duration in milliseconds with nothing numeric after it, both must find exactly the same lines.
        var random = new Random(1515);
        var path = Path.Combine(_dir, "performance_metrics.log");
        using (var writer = new StreamWriter(path, false, new UTF8Encoding(false)))
        {
            for (var i = 0; i < 100_000; i++)
            {
                var ms = random.Next(200) == 0 ? random.Next(1000, 60_000) : random.Next(1, 1000);
                writer.Write($"2026-11-29 10:{i / 6000 % 60:00}:{i / 100 % 60:00},{i % 1000:000} INFO perf request_id={i} op=search duration={ms}ms status=ok{(i % 7 == 0 ? "\r" : "")}\n");
            }
        }
        var grep = Process.Start(new ProcessStartInfo("grep", ["-n", "-E", "duration.*[0-9]{4,}", path]) { RedirectStandardOutput = true })!;
        var grepLines = grep.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l[..l.IndexOf(':')])).ToList();
        grep.WaitForExit();
        var found = LogSearch.Search(path, new LogSearchOptions(SlowerThan: TimeSpan.FromSeconds(1)), new LogScanStats(), null, CancellationToken.None)
            .Select(l => l.LineNumber).ToList();
        Assert.True(grepLines.Count > 300, $"the sample should have slow lines; grep found {grepLines.Count}");
        Assert.Equal(grepLines, found);
    }
}
