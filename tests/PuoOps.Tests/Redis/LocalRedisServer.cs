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
    private readonly string _directory;
    private Process? _process;

    private LocalRedisServer(string directory, int port) => (_directory, Port) = (directory, port);

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <param name="configuration">redis.conf lines added to the test server's own (port, bind, dir, no persistence).</param>
    public static async Task<LocalRedisServer> StartAsync(params string[] configuration)
    {
        var server = new LocalRedisServer(Directory.CreateTempSubdirectory("puo-xunit-redis-").FullName, TestEnvironments.ClosedPort());
        try
        {
            await server.LaunchAsync(configuration);
            return server;
        }
        catch
        {
            await server.DisposeAsync(); // also when redis-server could not be started at all: the folder goes
            throw;
        }
    }

    /// <summary>Stops the server and starts it again on the same port with other configuration lines (a rename-command needs a restart).</summary>
    public async Task RestartAsync(params string[] configuration)
    {
        await StopAsync();
        await LaunchAsync(configuration);
    }

    private async Task LaunchAsync(string[] configuration)
    {
        var config = Path.Combine(_directory, "redis.conf");
        var log = Path.Combine(_directory, "redis.log");
        File.Delete(log);
        await File.WriteAllLinesAsync(config,
            [$"port {Port}", "bind 127.0.0.1", $"dir {_directory}", "save \"\"", "appendonly no", "daemonize no", $"logfile {log}", .. configuration]);
        _process = Process.Start(new ProcessStartInfo("redis-server", [config]))!; // it logs to its logfile
        var deadline = DateTime.UtcNow.AddSeconds(30);
        try
        {
            while (true)
            {
                try
                {
                    await using var probe = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},connectTimeout=500");
                    await probe.GetDatabase().PingAsync();
                    return;
                }
                catch (RedisConnectionException) when (DateTime.UtcNow < deadline && !_process.HasExited)
                {
                    await Task.Delay(100);
                }
            }
        }
        catch (Exception ex)
        {
            var detail = File.Exists(log) ? await File.ReadAllTextAsync(log) : "no log";
            throw new InvalidOperationException($"The test's redis-server on port {Port} did not start: {detail}", ex);
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

    private async Task StopAsync()
    {
        if (_process is null)
            return;
        if (!_process.HasExited)
            _process.Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
