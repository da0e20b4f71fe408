using System.Net;
using System.Text;
using PuoOps.Engine;
using PuoOps.Engine.Docker;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Docker;

/// <summary>
/// A Swarm call that the daemon answers 503 is "not a swarm manager" only when the daemon's /info says so (typed
/// swarm state), never because of the text. Stand-in daemon, and it says why: a real engine gives two of these answers
/// only in setups a test cannot make on demand (a worker node of a swarm; a manager answering 503), so this loopback HTTP
/// server answers /version, /info and /services as dockerd does in each state. A real engine outside any swarm (an engine
/// tests/Pester/Deployment.Tests.ps1 starts; the sandbox's own is a swarm manager) is classified in that file.
/// </summary>
public sealed class SwarmStateTests
{
    [Theory]
    [InlineData("inactive", false, "PuoOps.Docker.NotASwarmManager", "swarm state: inactive")]
    [InlineData("active", false, "PuoOps.Docker.NotASwarmManager", "active, as a worker")]
    // A 503 whose text even mentions a swarm, from a node that is a manager: the daemon is unavailable, not outside a swarm.
    [InlineData("active", true, "PuoOps.Docker.Unavailable", "swarm")]
    public async Task A_503_to_a_Swarm_call_is_classified_by_the_daemons_swarm_state(string nodeState, bool manager, string errorId, string said)
    {
        await using var daemon = new DaemonStandIn(nodeState, manager);
        using var env = PuoEnvironment.Create(new EnvironmentSettings { Name = "xunit-swarmstate-" + Guid.NewGuid().ToString("N")[..6], DockerHost = $"tcp://127.0.0.1:{daemon.Port}" });
        var error = await Assert.ThrowsAsync<PuoException>(() => DockerConnections.CallAsync(TestEnvironments.Context(env, 10), "Listing Swarm services", null,
            (client, token) => client.Swarm.ListServicesAsync(null, token)));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains(said, error.Message);
        Assert.True(daemon.InfoAsked > 0);
    }

    private sealed class DaemonStandIn : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly Task _serving;
        private int _infoAsked;

        public DaemonStandIn(string nodeState, bool manager)
        {
            for (var attempt = 0; ; attempt++)
            {
                // A listener whose Start failed (port taken) is disposed: each attempt needs a new one.
                Port = Random.Shared.Next(20_000, 60_000);
                var listener = new HttpListener();
                listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
                try
                {
                    listener.Start();
                    _listener = listener;
                    break;
                }
                catch (HttpListenerException) when (attempt < 20)
                {
                    listener.Close();
                }
            }
            _serving = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try { context = await _listener.GetContextAsync(); }
                    catch { return; }
                    var path = context.Request.Url!.AbsolutePath;
                    var (status, body) = path.EndsWith("/version", StringComparison.Ordinal)
                        ? (200, """{"Version":"25.0.0","ApiVersion":"1.44","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}""")
                        : path.EndsWith("/info", StringComparison.Ordinal)
                            ? (200, "{\"ID\":\"x\",\"Swarm\":{\"LocalNodeState\":\"" + nodeState + "\",\"ControlAvailable\":" + (manager ? "true" : "false") + "}}")
                            : (503, """{"message":"swarm is busy or this node is not a swarm manager"}""");
                    if (path.EndsWith("/info", StringComparison.Ordinal))
                        Interlocked.Increment(ref _infoAsked);
                    var bytes = Encoding.UTF8.GetBytes(body);
                    context.Response.StatusCode = status;
                    context.Response.ContentType = "application/json";
                    await context.Response.OutputStream.WriteAsync(bytes);
                    context.Response.Close();
                }
            });
        }

        public int Port { get; private set; }
        public int InfoAsked => Volatile.Read(ref _infoAsked);

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await _serving;
            _listener.Close();
        }
    }
}
