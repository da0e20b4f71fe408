using System.Diagnostics;
using PuoOps.Tests.Infrastructure;
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
                var port = TestEnvironments.ClosedPort();
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
