using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PuoOps.Engine.Environments;

namespace PuoOps.Tests.Infrastructure;

/// <summary>
/// An nginx of the test's own (not the shared sandbox one), so tests can break its configuration, count its reloads
/// and fill its block list freely: a front server on a free 127.0.0.1 port that includes blocklist.conf and proxies
/// to a backend server answering 200 (a proxied location runs nginx's access phase; one answered by return would not).
/// Its error log is at notice level, where each reload logs a SIGHUP line. Stopped and deleted on Dispose.
/// </summary>
public sealed class PrivateNginx : IDisposable
{
    /// <param name="upstream">
    /// For blue-green tests: the front proxies to this upstream, defined in <see cref="TrafficFile"/> (an include
    /// naming <paramref name="initialServer"/>), instead of to the backend server.
    /// </param>
    public PrivateNginx(bool start = true, string extraFrontDirectives = "", string? upstream = null, string? initialServer = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("puo-nginx-").FullName;
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "logs"));
        File.WriteAllText(BlockList, "# empty\n");
        if (upstream is not null)
            File.WriteAllText(TrafficFile, $"upstream {upstream} {{\n    server {initialServer};\n}}\n");
        var traffic = upstream is null ? "" : $"include {TrafficFile};";
        for (var attempt = 1; ; attempt++)
        {
            (Port, BackendPort) = (FreePort(), FreePort());
            var target = upstream ?? $"127.0.0.1:{BackendPort}";
            File.WriteAllText(Config, $$"""
                worker_processes 1;
                daemon on;
                pid {{Directory}}/nginx.pid;
                error_log {{ErrorLog}} notice;
                events { worker_connections 64; }
                http {
                    access_log off;
                    client_body_temp_path {{Directory}}/temp-body;
                    proxy_temp_path {{Directory}}/temp-proxy;
                    fastcgi_temp_path {{Directory}}/temp-fastcgi;
                    uwsgi_temp_path {{Directory}}/temp-uwsgi;
                    scgi_temp_path {{Directory}}/temp-scgi;
                    {{traffic}}
                    server {
                        listen 127.0.0.1:{{Port}};
                        {{extraFrontDirectives}}
                        include {{BlockList}};
                        location / { proxy_pass http://{{target}}; proxy_connect_timeout 2s; }
                    }
                    server {
                        listen 127.0.0.1:{{BackendPort}};
                        location / { return 200 "ok\n"; }
                    }
                }
                """);
            if (!start)
                return;
            var run = Run("nginx", "-e", ErrorLog, "-p", Directory + "/", "-c", Config);
            if (run.ExitCode == 0)
                break;
            if (attempt == 3 || !File.ReadAllText(ErrorLog).Contains("Address already in use"))
                throw new InvalidOperationException($"nginx did not start: {run.Output}\n{File.ReadAllText(ErrorLog)}");
        }
        // Ready once the master has its title (nginx sets it after writing the pid file) and a worker runs.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!File.Exists(PidFile) && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        MasterPid = int.Parse(File.ReadAllText(PidFile).Trim());
        while (!(File.ReadAllText($"/proc/{MasterPid}/cmdline").StartsWith("nginx: master process", StringComparison.Ordinal) && Workers().Count > 0))
        {
            if (DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"nginx (master {MasterPid}) started no worker within 10 s:\n{File.ReadAllText(ErrorLog)}");
            Thread.Sleep(20);
        }
    }

    public string Directory { get; }
    public string Config => Path.Combine(Directory, "nginx.conf");
    public string BlockList => Path.Combine(Directory, "blocklist.conf");
    public string TrafficFile => Path.Combine(Directory, "traffic.conf");
    public string ErrorLog => Path.Combine(Directory, "logs", "error.log");
    public string PidFile => Path.Combine(Directory, "nginx.pid");
    public int Port { get; private set; }
    public int BackendPort { get; private set; }
    public int MasterPid { get; }

    /// <summary>An engine environment whose nginx is this one (and whose block list is its blocklist.conf).</summary>
    public PuoEnvironment Environment() => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = "nginx-" + Guid.NewGuid().ToString("N")[..8], NginxConfig = Config, BlockListFile = BlockList,
    });

    /// <summary>How many reloads nginx has logged so far.</summary>
    public int Reloads => File.ReadAllLines(ErrorLog).Count(l => l.Contains("signal 1 (SIGHUP) received", StringComparison.Ordinal));

    /// <summary>The worker pids of the master now serving (not those shutting down).</summary>
    public IReadOnlyList<int> Workers()
    {
        var children = File.ReadAllText($"/proc/{MasterPid}/task/{MasterPid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse);
        return children.Where(pid =>
        {
            try
            {
                var title = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
                return title.StartsWith("nginx: worker process", StringComparison.Ordinal) && !title.Contains("shutting down");
            }
            catch (IOException)
            {
                return false;
            }
        }).Order().ToList();
    }

    /// <summary>The HTTP status nginx answers a request coming from <paramref name="source"/> (a 127.0.0.x address).</summary>
    public int StatusFrom(string source)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                await socket.ConnectAsync(context.DnsEndPoint, token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        return (int)client.GetAsync($"http://127.0.0.1:{Port}/").GetAwaiter().GetResult().StatusCode;
    }

    public void Dispose()
    {
        if (File.Exists(PidFile) && int.TryParse(File.ReadAllText(PidFile).Trim(), out var pid) && pid == MasterPid)
        {
            Run("kill", "-QUIT", pid.ToString());
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (System.IO.Directory.Exists($"/proc/{pid}") && DateTime.UtcNow < deadline)
                Thread.Sleep(20);
        }
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    public static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
