using System.Diagnostics;
using PuoOps.Tests.Infrastructure;
using StackExchange.Redis;

namespace PuoOps.Tests.Redis;

/// <summary>
/// A second, plain redis-server (as installed for the sandbox) with configuration lines of the test's own, on a free
/// loopback port in a temp folder: for what the shared sandbox server must not be changed for (rename-command needs a
/// start). Disposing kills it by its pid and removes the folder.
/// </summary>
internal sealed class LocalRedisServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private LocalRedisServer(Process process, string directory, int port) => (_process, _directory, Port) = (process, directory, port);

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <param name="configuration">redis.conf lines added to the test server's own (port, bind, dir, no persistence).</param>
    public static async Task<LocalRedisServer> StartAsync(params string[] configuration)
    {
        var directory = Directory.CreateTempSubdirectory("puo-xunit-redis-").FullName;
        var port = TestEnvironments.ClosedPort();
        var config = Path.Combine(directory, "redis.conf");
        await File.WriteAllLinesAsync(config,
            [$"port {port}", "bind 127.0.0.1", $"dir {directory}", "save \"\"", "appendonly no", "daemonize no", $"logfile {directory}/redis.log", .. configuration]);
        var process = Process.Start(new ProcessStartInfo("redis-server", [config]))!; // it logs to its logfile
        var server = new LocalRedisServer(process, directory, port);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    await using var probe = await ConnectionMultiplexer.ConnectAsync($"{server.ConnectionString},connectTimeout=500");
                    await probe.GetDatabase().PingAsync();
                    return server;
                }
                catch (RedisConnectionException) when (DateTime.UtcNow < deadline && !process.HasExited)
                {
                    await Task.Delay(100);
                }
            }
        }
        catch (Exception ex)
        {
            var log = Path.Combine(directory, "redis.log");
            var detail = File.Exists(log) ? await File.ReadAllTextAsync(log) : "no log";
            await server.DisposeAsync();
            throw new InvalidOperationException($"The test's redis-server on port {port} did not start: {detail}", ex);
        }
    }

    /// <summary>A connection of the test's own, for seeding and checking.</summary>
    public Task<ConnectionMultiplexer> ConnectAsync() => ConnectionMultiplexer.ConnectAsync(ConnectionString);

    /// <summary>The keys of db 0 matching <paramref name="pattern"/> (SCAN).</summary>
    public List<string> Keys(string pattern)
    {
        using var direct = ConnectionMultiplexer.Connect(ConnectionString);
        return direct.GetServers()[0].Keys(0, pattern, 1000).Select(key => (string)key!).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
            _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
