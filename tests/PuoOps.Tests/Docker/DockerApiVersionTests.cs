using System.Management.Automation;
using System.Net.Sockets;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Docker;

/// <summary>
/// Every Docker cmdlet on the sandbox's engine directly, and through <see cref="Engine29Proxy"/>, which refuses every
/// API version below 1.44 as Docker Engine 29 does: the API version is negotiated from /version, never fixed.
/// </summary>
public sealed class DockerApiVersionTests
{
    [DockerFact]
    public void Every_Docker_cmdlet_works_on_the_sandbox_engine_directly()
    {
        var daemonApi = ScratchProject.Docker("version", "--format", "{{.Server.APIVersion}}");
        var verbose = RunEveryCmdlet(ScratchProject.Host);
        Assert.Contains(verbose, line => line.Contains($"using {daemonApi}.", StringComparison.Ordinal));
    }

    [DockerFact]
    public void Every_Docker_cmdlet_works_through_an_engine_that_refuses_API_versions_below_1_44()
    {
        using var proxy = new Engine29Proxy(ScratchProject.Host);

        var verbose = RunEveryCmdlet(proxy.Host);

        Assert.Contains(verbose, line => line.Contains("Docker 29.0.0", StringComparison.Ordinal) && line.Contains("using 1.52", StringComparison.Ordinal));
        Assert.Empty(proxy.Refused);
        Assert.Contains(proxy.Requests, line => line.StartsWith("GET /version ", StringComparison.Ordinal));
        Assert.All(proxy.Requests.Where(line => !line.StartsWith("GET /version ", StringComparison.Ordinal)),
            line => Assert.Contains(" /v1.52/", line));
    }

    [DockerFact]
    public void The_proxy_refuses_an_old_client_with_the_engines_words()
    {
        // The check that makes the test above meaningful: a client that asks for 1.41, as PuoOps used to, is refused.
        using var proxy = new Engine29Proxy(ScratchProject.Host);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(proxy.SocketPath));
        using var stream = new NetworkStream(socket, ownsSocket: true);
        stream.Write("GET /v1.41/containers/json HTTP/1.1\r\nHost: docker\r\n\r\n"u8);
        var answer = new StreamReader(stream).ReadToEnd();
        Assert.StartsWith("HTTP/1.1 400 ", answer);
        Assert.Contains("client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version", answer);
    }

    [DockerFact]
    public void A_daemon_newer_than_the_module_is_refused_with_both_ranges_named()
    {
        using var proxy = new Engine29Proxy(ScratchProject.Host, minimum: new Version(1, 60), maximum: new Version(1, 70));
        using var host = new ModuleHost(connectSandbox: false);
        host.Invoke("$null = Connect-PuoEnvironment -Name future -DockerHost $h -SkipCheck", new Dictionary<string, object?> { ["h"] = proxy.Host }).ThrowIfFailed();

        var result = host.Invoke("Get-PuoContainer -All");

        var error = Assert.Single(result.Errors);
        Assert.StartsWith("PuoOps.Docker.ApiVersion", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
        Assert.Contains("1.60 to 1.70", error.Exception.Message);
        Assert.Contains("1.41 to 1.54", error.Exception.Message);
        Assert.Contains("update PuoOps", error.Exception.Message);
        Assert.Empty(result.Output);
    }

    /// <summary>Runs each Docker cmdlet on a scratch compose project of <paramref name="dockerHost"/>, checks each outcome, returns the Verbose lines.</summary>
    private static List<string> RunEveryCmdlet(string dockerHost)
    {
        using var project = new ScratchProject("xunit-api");
        var api1 = project.Add("api", 1);
        var api2 = project.Add("api", 2);
        ScratchProject.WaitHealthy(api1);
        using var host = new ModuleHost(connectSandbox: false);
        var vars = new Dictionary<string, object?> { ["h"] = dockerHost, ["p"] = project.Name };
        var verbose = host.Invoke("$null = Connect-PuoEnvironment -Name api -DockerHost $h -SkipCheck; $null = Get-PuoContainer -All -Verbose", vars).ThrowIfFailed().Verbose;

        var containers = host.Invoke("Get-PuoContainer -Project $p", vars).ThrowIfFailed().Output;
        Assert.Equal([api1, api2], containers.Select(c => (string)c.Properties["Name"].Value));
        Assert.Equal("healthy", containers[0].Properties["Health"].Value);

        var image = Assert.Single(host.Invoke("Get-PuoImage -Name puo-busybox:latest", vars).ThrowIfFailed().Output);
        Assert.Contains(api1, (string[])image.Properties["Containers"].Value);

        var stats = host.Invoke("Get-PuoContainerStats -Project $p", vars).ThrowIfFailed().Output;
        Assert.Equal(2, stats.Count);
        Assert.All(stats, s => Assert.True((long)s.Properties["MemoryUsage"].Value > 0));

        for (var i = 0; i < 100 && host.Invoke("@(Get-PuoServiceLog -Container $c -Tail 4).Count", new Dictionary<string, object?> { ["c"] = api1 })
                 .ThrowIfFailed().Output[0].BaseObject is < 4; i++)
            Thread.Sleep(100);
        var lines = host.Invoke("Get-PuoServiceLog api -Project $p -Tail 4 -Timestamps", vars).ThrowIfFailed().Output;
        Assert.Equal(8, lines.Count); // the last 4 of each container
        Assert.All(lines, l => Assert.Matches("^api (out|err) [0-9]+$", (string)l.Properties["Message"].Value));
        Assert.All(lines, l => Assert.NotNull(l.Properties["Time"].Value));

        var restarted = host.Invoke("Restart-PuoService api -Project $p -Wait -TimeoutSec 30", vars).ThrowIfFailed().Output;
        Assert.All(restarted, c => Assert.Equal("running", c.Properties["After"].Value));
        var stopped = host.Invoke("Stop-PuoService api -Project $p -Confirm:$false", vars).ThrowIfFailed().Output;
        Assert.All(stopped, c => Assert.Equal("exited", c.Properties["After"].Value));
        Assert.Equal("false", ScratchProject.Inspect(api1, "{{.State.Running}}"));
        var started = host.Invoke("Start-PuoService api -Project $p -Wait -TimeoutSec 30", vars).ThrowIfFailed().Output;
        Assert.All(started, c => Assert.Equal("running", c.Properties["After"].Value));

        var up = Assert.Single(host.Invoke("Set-PuoServiceScale api 3 -Project $p -TimeoutSec 30", vars).ThrowIfFailed().Output);
        Assert.True((bool)up.Properties["Converged"].Value);
        Assert.Equal("true", ScratchProject.Inspect($"{project.Name}-api-3", "{{.State.Running}}"));
        var down = Assert.Single(host.Invoke("Set-PuoServiceScale api 1 -Project $p", vars).ThrowIfFailed().Output);
        Assert.Equal([$"{project.Name}-api-3", api2], (string[])down.Properties["Removed"].Value);
        return verbose;
    }
}
