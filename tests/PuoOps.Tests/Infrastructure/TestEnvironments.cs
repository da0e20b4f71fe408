using System.Net;
using System.Net.Sockets;
using PuoOps.Engine;
using PuoOps.Engine.Environments;

namespace PuoOps.Tests.Infrastructure;

/// <summary>Engine-level environments and contexts pointing at the sandbox (or deliberately at nothing).</summary>
public static class TestEnvironments
{
    public static PuoEnvironment Sandbox(string? name = null) => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = name ?? "xunit-" + Guid.NewGuid().ToString("N")[..8],
        PostgresConnectionString = Infrastructure.Sandbox.Current.PostgresConnectionString,
        RedisConnectionString = Infrastructure.Sandbox.Current.RedisConnectionString,
        DockerHost = Infrastructure.Sandbox.Current.DockerHost,
        ApiUrl = Infrastructure.Sandbox.Current.ApiUrl,
        McpUrl = Infrastructure.Sandbox.Current.McpUrl,
    });

    public static PuoEnvironment WithPostgresUrl(string url) => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = "xunit-" + Guid.NewGuid().ToString("N")[..8],
        DatabaseUrl = url,
    });

    public static OperationContext Context(PuoEnvironment environment, int timeoutSeconds = 15, CancellationToken cancellation = default) =>
        new(environment, TimeSpan.FromSeconds(timeoutSeconds), cancellation);

    /// <summary>A loopback port that nothing listens on (bound, then released).</summary>
    public static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

/// <summary>
/// A loopback server that accepts connections and never answers: the way to test timeouts and Ctrl+C
/// against a hung service without waiting on a real one.
/// </summary>
public sealed class BlackholeServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _accepted = [];
    private readonly CancellationTokenSource _stop = new();

    public BlackholeServer()
    {
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var socket = await _listener.AcceptSocketAsync(_stop.Token);
                    lock (_accepted) _accepted.Add(socket);
                }
                catch { return; }
            }
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_accepted) _accepted.ForEach(s => s.Dispose());
    }
}
