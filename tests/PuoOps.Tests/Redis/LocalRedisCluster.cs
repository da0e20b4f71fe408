using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace PuoOps.Tests.Redis;

/// <summary>
/// A real three-primary Redis Cluster on loopback (redis-server, as installed for the sandbox), started for a
/// test and killed after it: the only way to prove that cluster-wide operations visit every primary.
/// </summary>
internal sealed class LocalRedisCluster : IAsyncDisposable
{
    private readonly List<Process> _nodes = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("puo-xunit-cluster-").FullName;

    public List<int> Ports { get; } = [];

    public string ConnectionString => string.Join(",", Ports.Select(p => $"127.0.0.1:{p}"));

    public static async Task<LocalRedisCluster> StartAsync()
    {
        var cluster = new LocalRedisCluster();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var port = FreeNodePort();
                cluster.Ports.Add(port);
                cluster._nodes.Add(Process.Start(new ProcessStartInfo("redis-server",
                    [
                        "--port", $"{port}", "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf",
                        "--dir", cluster._directory, "--save", "", "--appendonly", "no", "--logfile", $"{cluster._directory}/redis-{port}.log",
                    ]) { RedirectStandardOutput = true, RedirectStandardError = true })!);
            }
            foreach (var port in cluster.Ports)
                await WaitForAsync(() => Cli(port, "PING").Contains("PONG"));
            var create = Cli(cluster.Ports[0], ["--cluster", "create", .. cluster.Ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"]);
            if (!create.Contains("All 16384 slots covered"))
                throw new InvalidOperationException("redis-cli --cluster create failed: " + create);
            foreach (var port in cluster.Ports)
                await WaitForAsync(() => Cli(port, "CLUSTER", "INFO").Contains("cluster_state:ok"));
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The cluster bus listens on the node's port + 10000.</summary>
    public const int BusPortOffset = 10000;

    /// <summary>
    /// A free loopback port whose cluster bus port (+10000) is a valid port and free too. The kernel's ephemeral
    /// range (32768-60999) goes above 55535, where the bus port would not exist and the node could not start.
    /// </summary>
    public static int FreeNodePort()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            using var node = new TcpListener(IPAddress.Loopback, 0);
            node.Start();
            var port = ((IPEndPoint)node.LocalEndpoint).Port;
            if (port + BusPortOffset > IPEndPoint.MaxPort)
                continue;
            try
            {
                using var bus = new TcpListener(IPAddress.Loopback, port + BusPortOffset);
                bus.Start();
                return port;
            }
            catch (SocketException)
            {
                // The bus port is taken: try another.
            }
        }
        throw new InvalidOperationException("No free loopback port with a free cluster bus port (+10000) was found in 200 attempts.");
    }

    public async Task<ConnectionMultiplexer> ConnectAsync() => await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",allowAdmin=true");

    private static string Cli(int port, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("redis-cli", ["-h", "127.0.0.1", "-p", $"{port}", .. arguments])
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit(30_000);
        return output;
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 150; i++)
        {
            if (condition())
                return;
            await Task.Delay(100);
        }
        throw new TimeoutException("The local Redis Cluster did not become ready.");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            if (!node.HasExited)
                node.Kill();
            await node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
            node.Dispose();
        }
        Directory.Delete(_directory, recursive: true);
    }
}
