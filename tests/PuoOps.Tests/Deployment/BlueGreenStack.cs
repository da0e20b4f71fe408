using System.Net;
using System.Net.Sockets;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Docker;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Deployment;

/// <summary>
/// A blue-green pair as the issue describes it, on the sandbox's engine (a single-node swarm): blue and green are Swarm services (busybox
/// httpd on the host network, each on its own 127.0.0.1 port, serving /health and a /version naming colour and image),
/// labelled puo.color and puo.port, and puo.upstream so that pairs of parallel tests never see each other. A private
/// nginx proxies to the upstream its traffic file defines, at first to blue. Everything is removed on Dispose.
/// </summary>
public sealed class BlueGreenStack : IDisposable
{
    private readonly List<string> _services = [];

    public BlueGreenStack()
    {
        Id = Guid.NewGuid().ToString("N")[..8];
        Upstream = "puo_" + Id;
        (BluePort, GreenPort) = (FreePort(), FreePort());
        if (!Sandbox.Current.DockerAvailable)
            return;
        CreateColor("blue", BluePort);
        CreateColor("green", GreenPort);
        WaitForVersion(BluePort, "blue");
        WaitForVersion(GreenPort, "green");
        Nginx = new PrivateNginx(upstream: Upstream, initialServer: $"127.0.0.1:{BluePort}");
    }

    public string Id { get; }
    public string Upstream { get; }
    public int BluePort { get; }
    public int GreenPort { get; }
    public PrivateNginx Nginx { get; } = null!;
    public static string Image => Sandbox.Current.State.GetProperty("Docker").GetProperty("Image").GetString()!;

    /// <summary>
    /// What a colour's task runs, the sandbox's own colour script (tests/Sandbox/color-httpd.sh): busybox httpd in the
    /// foreground on $PORT, serving /health and a /version "$PUO_COLOR $PUO_IMAGE".
    /// </summary>
    public static string Script => Sandbox.Current.State.GetProperty("Colors").GetProperty("Script").GetString()!;
    public string ServiceName(string color) => $"bg-{Id}-{color}";

    public void CreateColor(string color, int port, string? image = null)
    {
        image ??= Image;
        var name = ServiceName(color);
        ScratchProject.Docker("service", "create", "--detach", "--name", name, "--network", "host", "--stop-grace-period", "1s", "--no-resolve-image",
            "--label", $"puo.color={color}", "--label", $"puo.port={port}", "--label", $"puo.upstream={Upstream}",
            "-e", $"PORT={port}", "-e", $"PUO_COLOR={color}", "-e", $"PUO_IMAGE={image}", image, "sh", "-c", Script);
        _services.Add(name);
    }

    /// <summary>An engine environment of this pair: its nginx, traffic file and upstream, colours from Swarm.</summary>
    public PuoEnvironment Environment() => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = "bg-" + Guid.NewGuid().ToString("N")[..8], NginxConfig = Nginx.Config, TrafficFile = Nginx.TrafficFile,
        Upstream = Upstream, DockerHost = Sandbox.Current.DockerHost,
    });

    /// <summary>The Connect-PuoEnvironment line of this pair, for cmdlet tests.</summary>
    public string ConnectScript(string name) =>
        $"Connect-PuoEnvironment {name} -NginxConfig '{Nginx.Config}' -TrafficFile '{Nginx.TrafficFile}' -Upstream {Upstream} -DockerHost '{Sandbox.Current.DockerHost}' -SkipCheck";

    public static string Get(int port, string path)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return client.GetStringAsync($"http://127.0.0.1:{port}/{path}").GetAwaiter().GetResult().Trim();
    }

    public string ThroughNginx(string path = "version") => Get(Nginx.Port, path);

    public static void WaitForVersion(int port, string expectedStart)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                if (Get(port, "version").StartsWith(expectedStart, StringComparison.Ordinal))
                    return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // not up yet
            }
            if (DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"127.0.0.1:{port} did not answer /version '{expectedStart}...' within 60 s: {ScratchProject.Docker("service", "ls")}");
            Thread.Sleep(200);
        }
    }

    public void Dispose()
    {
        foreach (var service in _services.Concat(ExtraServices()).Distinct())
        {
            try
            {
                ScratchProject.Docker("service", "rm", service);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }
        Nginx?.Dispose();
    }

    /// <summary>Services a test created through the module (Publish-PuoDeployment) for this pair.</summary>
    private IEnumerable<string> ExtraServices() =>
        ScratchProject.Docker("service", "ls", "--filter", $"label=puo.upstream={Upstream}", "--format", "{{.Name}}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
