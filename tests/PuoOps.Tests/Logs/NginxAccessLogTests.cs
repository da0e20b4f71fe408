using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PuoOps.Engine.Logs;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Logs;

/// <summary>
/// Access logs written by a real nginx (the sandbox's binary, in a private prefix on a free loopback port), in the
/// combined format and in Debian's "main" format with the forwarded-for field, for requests from several loopback
/// addresses and ::1: what Find-PuoAuthFailure reads must be what nginx wrote.
/// </summary>
public sealed class NginxAccessLogTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-nginx-logs-").FullName;
    private Process? _nginx;
    private int _port;

    public async Task InitializeAsync()
    {
        // The sandbox installs nginx (apt-get) and names its binary; nginx is what this test is about, so it is required.
        var binary = Sandbox.Current.State.GetProperty("Nginx").GetProperty("Binary").GetString()!;
        Directory.CreateDirectory(Path.Combine(_dir, "temp"));
        // A free port may be taken between finding it and nginx binding it: try another, as the sandbox does.
        for (var attempt = 1; ; attempt++)
        {
            _port = TestEnvironments.ClosedPort();
            _nginx = StartNginx(binary);
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (!_nginx.HasExited && !await Answers() && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            if (!_nginx.HasExited)
                return;
            var error = await _nginx.StandardError.ReadToEndAsync();
            Assert.True(attempt < 3 && error.Contains("Address already in use"), "nginx exited: " + error);
        }
    }

    private Process StartNginx(string binary)
    {
        var conf = Path.Combine(_dir, "nginx.conf");
        File.WriteAllText(conf, $$"""
            worker_processes 1;
            daemon off;
            user root;
            pid {{_dir}}/nginx.pid;
            error_log {{_dir}}/error.log warn;
            events { worker_connections 64; }
            http {
                log_format main '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
                                '"$http_user_agent" "$http_x_forwarded_for"';
                client_body_temp_path {{_dir}}/temp/body;
                proxy_temp_path {{_dir}}/temp/proxy;
                fastcgi_temp_path {{_dir}}/temp/fastcgi;
                uwsgi_temp_path {{_dir}}/temp/uwsgi;
                scgi_temp_path {{_dir}}/temp/scgi;
                server {
                    listen 127.0.0.1:{{_port}};
                    listen [::1]:{{_port}};
                    access_log {{_dir}}/combined.log combined;
                    access_log {{_dir}}/main.log main;
                    location /api/auth/ { return 401; }
                    location /admin { return 403; }
                    location / { return 200 'ok'; }
                }
            }
            """);
        return Process.Start(new ProcessStartInfo(binary, ["-p", _dir + "/", "-c", conf, "-e", Path.Combine(_dir, "error.log")])
        {
            RedirectStandardError = true,
        })!;
    }

    public Task DisposeAsync()
    {
        if (_nginx is { HasExited: false })
        {
            _nginx.Kill(entireProcessTree: true);
            _nginx.WaitForExit(10_000);
        }
        _nginx?.Dispose();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private async Task<bool> Answers()
    {
        try
        {
            using var probe = new TcpClient();
            await probe.ConnectAsync(IPAddress.Loopback, _port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A request sent from <paramref name="source"/> (a loopback address), with optional forwarded-for header.</summary>
    private async Task Send(string source, string path, string? forwardedFor = null, string agent = "curl/8.5.0")
    {
        var local = IPAddress.Parse(source);
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(new IPEndPoint(local.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, _port), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://localhost:{_port}{path}");
        request.Headers.UserAgent.ParseAdd(agent);
        if (forwardedFor is not null)
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await client.SendAsync(request);
    }

    private async Task<Dictionary<string, long>> Totals(string log, params string[] trusted)
    {
        // nginx writes each access log line when the request ends; wait for all of them.
        var path = Path.Combine(_dir, log);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await File.ReadAllLinesAsync(path)).Length < 10 && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        var options = new AccessLogOptions(null, null, new HashSet<int> { 401, 403 }, trusted.Select(AccessLog.ParseNetwork).ToList());
        var stats = new LogScanStats();
        var groups = new AuthFailureGroups();
        foreach (var request in AuthFailures.Requests(path, options, stats, null, CancellationToken.None))
            groups.Add(request);
        Assert.Equal(0, stats.MalformedLines);
        Assert.Equal(10, stats.Lines);
        return groups.Result(1).ToDictionary(g => g.IpAddress, g => g.Count);
    }

    private async Task SendAll()
    {
        foreach (var path in new[] { "/api/auth/login?user=admin", "/api/auth/login", "/api/auth/token", "/admin", "/", "/health" })
            await Send("127.0.0.2", path);
        await Send("127.0.0.3", "/admin", forwardedFor: "198.51.100.7", agent: "scanner/1");
        await Send("127.0.0.3", "/admin/users", forwardedFor: "203.0.113.9, 198.51.100.7", agent: "scanner/1");
        await Send("::1", "/api/auth/login");
        await Send("127.0.0.4", "/admin", forwardedFor: "192.0.2.1"); // not a proxy: its header is ignored
    }

    [Fact]
    public async Task Counts_per_client_from_nginx_combined_log_match_what_was_sent()
    {
        await SendAll();
        var totals = await Totals("combined.log");
        Assert.Equal(new Dictionary<string, long> { ["127.0.0.2"] = 4, ["127.0.0.3"] = 2, ["::1"] = 1, ["127.0.0.4"] = 1 }, totals);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_the_forwarded_for_field_of_nginx_main_log_names_the_client()
    {
        await SendAll();
        Assert.Equal(new Dictionary<string, long> { ["127.0.0.2"] = 4, ["127.0.0.3"] = 2, ["::1"] = 1, ["127.0.0.4"] = 1 }, await Totals("main.log"));
        Assert.Equal(new Dictionary<string, long> { ["127.0.0.2"] = 4, ["198.51.100.7"] = 2, ["::1"] = 1, ["127.0.0.4"] = 1 },
            await Totals("main.log", "127.0.0.3"));
        var request = AuthFailures.Requests(Path.Combine(_dir, "main.log"),
                new AccessLogOptions(AccessLogFormat.Nginx, null, new HashSet<int> { 403 }, [AccessLog.ParseNetwork("127.0.0.3")]), new LogScanStats(), null,
                CancellationToken.None)
            .Single(r => r.Path == "/admin/users");
        Assert.Equal(("198.51.100.7", "127.0.0.3", "GET", "scanner/1"), (request.IpAddress, request.RemoteAddress, request.Method, request.UserAgent));
    }
}
