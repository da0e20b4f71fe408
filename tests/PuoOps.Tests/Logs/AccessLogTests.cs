using System.Net;
using PuoOps.Engine;
using PuoOps.Engine.Logs;

namespace PuoOps.Tests.Logs;

/// <summary>Find-PuoAuthFailure's engine: the access log formats, malformed lines, trusted proxies, windows, totals.</summary>
public sealed class AccessLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-accesslog-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AccessLogOptions Options(AccessLogFormat? format = null, string? pattern = null, int[]? statuses = null,
        string[]? trusted = null, DateTimeOffset? since = null, DateTimeOffset? until = null) =>
        new(format, pattern is null ? null : AccessLog.Pattern(pattern), (statuses ?? [401, 403]).ToHashSet(),
            (trusted ?? []).Select(AccessLog.ParseNetwork).ToList(), since, until, KeepLines: true);

    private (List<AuthFailureRequest> Requests, LogScanStats Stats) Read(string text, AccessLogOptions options)
    {
        var path = Path.Combine(_dir, "access.log");
        File.WriteAllText(path, text);
        var stats = new LogScanStats();
        return (AuthFailures.Requests(path, options, stats, null, CancellationToken.None).ToList(), stats);
    }

    private const string Combined =
        """
        203.0.113.7 - - [29/Nov/2026:10:00:01 +0000] "POST /api/auth/login?user=admin HTTP/1.1" 401 52 "-" "python-requests/2.31"
        203.0.113.7 - alice [29/Nov/2026:10:00:02 +0000] "GET /api/memories HTTP/2.0" 403 40 "https://example.invalid/" "Mozilla/5.0 (X11)"
        198.51.100.4 - - [29/Nov/2026:10:00:03 +0000] "GET /api/memories?limit=401 HTTP/1.1" 200 1401 "-" "curl/8.5.0"
        198.51.100.4 - - [29/Nov/2026:10:00:04 +0000] "GET /missing HTTP/1.1" 404 153 "-" "curl/8.5.0"
        2001:db8::1 - - [29/Nov/2026:10:00:05 +0100] "GET /admin HTTP/1.1" 403 10 "-" "curl/8.5.0"
        ::ffff:192.0.2.1 - - [29/Nov/2026:10:00:06 +0000] "GET /admin HTTP/1.1" 401 10 "-" "curl/8.5.0"
        192.0.2.9 - - [29/Nov/2026:10:00:07 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 157 "-" "-"

        """;

    [Fact]
    public void Nginx_combined_lines_give_the_wanted_requests_with_their_fields()
    {
        var (requests, stats) = Read(Combined, Options(AccessLogFormat.Nginx));
        Assert.Equal(0, stats.MalformedLines);
        Assert.Equal([1L, 2L, 5L, 6L], requests.Select(r => r.LineNumber));
        var first = requests[0];
        Assert.Equal("203.0.113.7", first.IpAddress);
        Assert.Equal(401, first.Status);
        Assert.Equal("POST", first.Method);
        Assert.Equal("/api/auth/login", first.Path); // the query string (which may carry a token) is dropped
        Assert.Equal("python-requests/2.31", first.UserAgent);
        Assert.Equal(DateTimeOffset.Parse("2026-11-29T10:00:01Z"), first.Time);
        Assert.Equal("Mozilla/5.0 (X11)", requests[1].UserAgent);
        Assert.Equal("2001:db8::1", requests[2].IpAddress);
        Assert.Equal(TimeSpan.FromHours(1), requests[2].Time!.Value.Offset);
        Assert.Equal("192.0.2.1", requests[3].IpAddress); // an IPv4 client of a dual-stack socket
    }

    [Fact]
    public void Other_statuses_can_be_asked_for()
    {
        var (requests, _) = Read(Combined, Options(AccessLogFormat.Nginx, statuses: [400, 404]));
        Assert.Equal([(4L, 404), (7L, 400)], requests.Select(r => (r.LineNumber, r.Status)));
        Assert.Null(requests[1].Method); // a TLS handshake sent to a plain port has no method or path
    }

    [Theory]
    [InlineData("garbage that is no access log line")]
    [InlineData("203.0.113.7 - - [29/Nov/2026:10:00:01 +0000] \"GET /api/auth/login HTTP/1.1\" 40")] // cut off mid-write
    [InlineData("not-an-address - - [29/Nov/2026:10:00:01 +0000] \"GET / HTTP/1.1\" 401 52 \"-\" \"curl\"")]
    [InlineData("203.0.113.7 \"GET / HTTP/1.1\" 401 52")]
    [InlineData("{\"status\": 401, \"client_ip\": \"203.0.113.7\"")] // JSON cut off
    public void Malformed_lines_are_counted_and_skipped(string bad)
    {
        var (requests, stats) = Read(Combined + bad + "\n\n" + Combined, Options());
        Assert.Equal(1, stats.MalformedLines);
        Assert.Equal(8, requests.Count);
        Assert.Equal([1L, 2L, 5L, 6L, 10L, 11L, 14L, 15L], requests.Select(r => r.LineNumber)); // the lines after keep their numbers
    }

    [Fact]
    public void Totals_over_megabytes_agree_with_reading_every_line_by_itself()
    {
        // Several chunks, mostly read by the vectorized status-field pass; one region has malformed and blank lines
        // and a line with a second status-like field, which send their chunk down the line-by-line path.
        var random = new Random(17);
        var lines = new List<string>();
        for (var i = 0; i < 40_000; i++)
        {
            var address = i % 3 == 0 ? $"2001:db8::{random.Next(1, 300):x}" : $"198.51.100.{random.Next(1, 300) % 256}";
            var status = random.Next(10) switch { 0 => 401, 1 => 403, 2 => 404, _ => 200 };
            var agent = i == 20_011 ? "\"curl/8.5.0\" 401 \"-\"" : "\"Mozilla/5.0 (X11; Linux x86_64)\"";
            lines.Add(i is > 20_000 and < 20_010
                ? (i % 2 == 0 ? "" : "garbage " + i)
                : $"{address} - - [29/Nov/2026:10:{i / 1000 % 60:00}:{i % 60:00} +0000] \"GET /p/{i % 7} HTTP/1.1\" {status} {i} \"-\" {agent}");
        }
        var (requests, stats) = Read(string.Join('\n', lines) + "\n", Options());
        var reference = lines.Select((line, i) => (line, number: i + 1L))
            .Select(x => (x.number, match: System.Text.RegularExpressions.Regex.Match(x.line, @"^(\S+) .*?"" (\d{3}) ")))
            .Where(x => x.match.Success && x.match.Groups[2].Value is "401" or "403")
            .Select(x => (x.number, System.Net.IPAddress.Parse(x.match.Groups[1].Value).ToString()))
            .ToList();
        Assert.Equal(reference, requests.Select(r => (r.LineNumber, r.IpAddress)));
        Assert.Equal(5, stats.MalformedLines);
        Assert.Equal(40_000, stats.Lines);
    }

    [Fact]
    public void A_log_in_another_format_is_all_malformed()
    {
        var (requests, stats) = Read("2026-11-29 10:00:00 INFO started\n2026-11-29 10:00:01 INFO ready\n", Options(AccessLogFormat.Nginx));
        Assert.Empty(requests);
        Assert.Equal(2, stats.MalformedLines);
    }

    [Theory]
    // remote address, forwarded-for field, trusted proxies, expected client
    [InlineData("192.0.2.44", "-", new string[0], "192.0.2.44")]
    [InlineData("10.0.0.5", "198.51.100.7", new string[0], "10.0.0.5")] // no trusted proxy: the header is never believed
    [InlineData("10.0.0.5", "198.51.100.7", new[] { "10.0.0.5" }, "198.51.100.7")]
    [InlineData("10.0.0.5", "198.51.100.7, 10.0.0.9", new[] { "10.0.0.0/24" }, "198.51.100.7")] // past every trusted hop
    [InlineData("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.9", new[] { "10.0.0.0/24" }, "198.51.100.7")] // the client's own header is not believed
    [InlineData("10.0.0.5", "10.0.0.8, 10.0.0.9", new[] { "10.0.0.0/24" }, "10.0.0.8")] // all trusted: the farthest
    [InlineData("198.51.100.9", "192.0.2.1", new[] { "10.0.0.0/24" }, "198.51.100.9")] // not from a proxy
    [InlineData("10.0.0.5", "garbage, 198.51.100.7", new[] { "10.0.0.5" }, "198.51.100.7")] // stops at what it cannot read
    [InlineData("10.0.0.5", "198.51.100.7:51234", new[] { "10.0.0.5" }, "198.51.100.7")]
    [InlineData("fd00::5", "[2001:db8::7]:443", new[] { "fd00::/8" }, "2001:db8::7")]
    [InlineData("10.0.0.5", "2001:DB8:0:0:0:0:0:7", new[] { "10.0.0.5" }, "2001:db8::7")]
    public void The_forwarded_address_is_the_client_only_behind_a_trusted_proxy(string remote, string forwarded, string[] trusted, string client)
    {
        var line = $"{remote} - - [29/Nov/2026:10:00:01 +0000] \"GET /x HTTP/1.1\" 401 5 \"-\" \"curl/8.5.0\" \"{forwarded}\"\n";
        var (requests, stats) = Read(line, Options(AccessLogFormat.Nginx, trusted: trusted));
        var request = Assert.Single(requests);
        Assert.Equal(client, request.IpAddress);
        Assert.Equal(remote, request.RemoteAddress);
        Assert.Equal("curl/8.5.0", request.UserAgent); // with a forwarded-for field, the agent is the field before it
        Assert.Equal(0, stats.MalformedLines);
    }

    [Fact]
    public void An_invalid_trusted_proxy_is_InvalidArgument()
    {
        var error = Assert.Throws<PuoException>(() => AccessLog.ParseNetwork("10.0.0.0/33"));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal(IPAddress.Parse("10.0.0.5"), AccessLog.ParseNetwork("10.0.0.5").BaseAddress);
    }

    [Fact]
    public void Json_lines_are_read_by_the_usual_field_names_flat_or_nested()
    {
        var text = """
            {"timestamp": "2026-11-29T10:00:01Z", "level": "warning", "client_ip": "192.0.2.10", "method": "POST", "path": "/api/auth/login?next=/", "status_code": 401, "user_agent": "curl/8.5.0"}
            {"@timestamp": "2026-11-29T10:00:02Z", "client": {"ip": "2001:db8::a"}, "http": {"request": {"method": "GET"}, "response": {"status_code": 403}}, "url": {"path": "/admin"}, "user_agent": {"original": "Go-http-client/1.1"}}
            {"ts": 1795946403, "remote_addr": "192.0.2.11", "request": "DELETE /api/memories/7 HTTP/1.1", "status": "401", "tags": [401, 403]}
            {"time": "2026-11-29T10:00:04Z", "ip": "192.0.2.12", "url": "https://api.example.invalid/v1/keys?token=secret", "status": 403}
            {"timestamp": "2026-11-29T10:00:05Z", "client_ip": "192.0.2.13", "path": "/api/memories", "status_code": 200, "bytes": 401}
            {"event": "startup", "port": 8000, "workers": 401}
            """;
        var (requests, stats) = Read(text + "\n", Options(AccessLogFormat.Json));
        Assert.Equal(0, stats.MalformedLines);
        Assert.Equal(["192.0.2.10", "2001:db8::a", "192.0.2.11", "192.0.2.12"], requests.Select(r => r.IpAddress));
        Assert.Equal([401, 403, 401, 403], requests.Select(r => r.Status));
        Assert.Equal(["POST", "GET", "DELETE", null], requests.Select(r => r.Method));
        Assert.Equal(["/api/auth/login", "/admin", "/api/memories/7", "/v1/keys"], requests.Select(r => r.Path));
        Assert.Equal(["curl/8.5.0", "Go-http-client/1.1", null, null], requests.Select(r => r.UserAgent));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795946403), requests[2].Time);
    }

    [Fact]
    public void Without_a_format_each_line_is_read_by_its_look()
    {
        var mixed = "{\"client_ip\": \"192.0.2.10\", \"status\": 401}\n" + Combined;
        var (requests, stats) = Read(mixed, Options());
        Assert.Equal(0, stats.MalformedLines);
        Assert.Equal(["192.0.2.10", "203.0.113.7", "203.0.113.7", "2001:db8::1", "192.0.2.1"], requests.Select(r => r.IpAddress));
        var (_, asJson) = Read(Combined, Options(AccessLogFormat.Json));
        Assert.Equal(7, asJson.MalformedLines);
    }

    [Fact]
    public void A_regex_with_named_groups_reads_any_other_format()
    {
        var text = "2026-11-29T10:00:01Z client=192.0.2.20 status=403 GET /admin?x=1 ua=\"curl/8\"\n" +
                   "2026-11-29T10:00:02Z client=192.0.2.20 status=200 GET /\n" +
                   "something else entirely\n";
        var options = Options(pattern: @"^(?<time>\S+) client=(?<ip>\S+) status=(?<status>\d+) (?<method>\S+) (?<path>\S+)( ua=""(?<useragent>[^""]*)"")?");
        var (requests, stats) = Read(text, options);
        var request = Assert.Single(requests);
        Assert.Equal(("192.0.2.20", 403, "GET", "/admin", "curl/8"), (request.IpAddress, request.Status, request.Method, request.Path, request.UserAgent));
        Assert.Equal(DateTimeOffset.Parse("2026-11-29T10:00:01Z"), request.Time);
        Assert.Equal(1, stats.MalformedLines);
    }

    [Theory]
    [InlineData(@"(?<ip>\S+) (?<code>\d+)", "status")]
    [InlineData(@"(?<address>\S+) (?<status>\d+)", "ip")]
    public void A_regex_without_the_ip_and_status_groups_is_InvalidArgument(string pattern, string missing)
    {
        var error = Assert.Throws<PuoException>(() => AccessLog.Pattern(pattern));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void Since_and_Until_keep_the_requests_in_the_window()
    {
        var (requests, _) = Read(Combined, Options(since: DateTimeOffset.Parse("2026-11-29T10:00:02Z"), until: DateTimeOffset.Parse("2026-11-29T10:00:05Z")));
        // 10:00:05 +0100 is 09:00:05Z: before the window.
        Assert.Equal([2L], requests.Select(r => r.LineNumber));
    }

    [Fact]
    public void Totals_per_address_count_statuses_times_top_paths_and_agents()
    {
        var lines = new List<string>();
        void Add(string ip, int status, string path, string agent, int second) =>
            lines.Add($"{ip} - - [29/Nov/2026:10:00:{second:00} +0000] \"GET {path} HTTP/1.1\" {status} 5 \"-\" \"{agent}\"");
        for (var i = 0; i < 7; i++)
            Add("203.0.113.7", 401, "/login", "bot/1", 10 + i);
        Add("203.0.113.7", 403, "/admin", "bot/2", 5);
        foreach (var (path, n) in new[] { ("/a", 6), ("/b", 5), ("/c", 4), ("/d", 3), ("/e", 2), ("/f", 1) })
        {
            for (var i = 0; i < n; i++)
                Add("2001:db8::9", 403, path, $"agent/{n % 4}", 30);
        }
        Add("198.51.100.1", 401, "/login", "curl", 40);
        var (requests, _) = Read(string.Join('\n', lines) + "\n", Options());
        var groups = new AuthFailureGroups();
        requests.ForEach(groups.Add);
        var result = groups.Result(threshold: 2).ToList();
        Assert.Equal(["2001:db8::9", "203.0.113.7"], result.Select(g => g.IpAddress)); // most first; 198.51.100.1 is under the threshold
        var scanner = result[0];
        Assert.Equal((21L, 0L, 21L), (scanner.Count, scanner.Status401, scanner.Status403));
        Assert.Equal(["/a", "/b", "/c", "/d", "/e"], scanner.Paths);
        Assert.Equal(["agent/2", "agent/1", "agent/0"], scanner.UserAgents); // 8, 6 and 4 requests; agent/3 has 3
        var bot = result[1];
        Assert.Equal((8L, 7L, 1L), (bot.Count, bot.Status401, bot.Status403));
        Assert.Equal(DateTimeOffset.Parse("2026-11-29T10:00:05Z"), bot.FirstSeen);
        Assert.Equal(DateTimeOffset.Parse("2026-11-29T10:00:16Z"), bot.LastSeen);
        Assert.Equal(["/login", "/admin"], bot.Paths);
    }

    [Fact]
    public void The_most_requested_paths_of_a_scanner_are_kept_in_bounded_memory()
    {
        // A scanner probing 10,000 distinct paths between its attempts on two real ones: at most 20 are tracked, and
        // (Space-Saving's guarantee) every path with more than 1/20 of the requests is among them, by count.
        var top = new TopCounter(20);
        for (var i = 0; i < 10_000; i++)
        {
            top.Add($"/scan/{i}");
            if (i % 3 == 0)
                top.Add("/api/auth/login");
            if (i % 7 == 0)
                top.Add("/admin");
        }
        Assert.InRange(top.Top(int.MaxValue).Length, 1, 20);
        Assert.Equal(["/api/auth/login", "/admin"], top.Top(2));
    }
}
