using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using PuoOps.Engine;
using PuoOps.Engine.Deployment;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Docker;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Deployment;

/// <summary>
/// Switch-PuoTraffic's engine against a real blue-green pair (Swarm services behind a real nginx): the verified switch,
/// refusals that change nothing, a broken configuration, automatic rollback, -Rollback, the reload interval, and the
/// reliability figures under load.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TrafficSwitchTests : IClassFixture<BlueGreenStack>
{
    private readonly BlueGreenStack _stack;

    public TrafficSwitchTests(BlueGreenStack stack)
    {
        _stack = stack;
        if (Sandbox.Current.DockerAvailable)
            ResetToBlue();
    }

    private static readonly SwitchOptions Quick = new() { HealthyProbes = 2, AnalysisRequests = 40, Monitor = TimeSpan.FromSeconds(1), MinReloadInterval = TimeSpan.FromSeconds(1) };

    private OperationContext Context(PuoEnvironment? environment = null, CancellationToken cancellation = default) =>
        TestEnvironments.Context(environment ?? _stack.Environment(), cancellation: cancellation);

    private async Task<TrafficSwitch> Switch(SwitchOptions options, PuoEnvironment? environment = null)
    {
        var ctx = Context(environment);
        return await TrafficService.SwitchAsync(ctx, await TrafficService.PlanAsync(ctx, options), options);
    }

    /// <summary>Each test starts with blue active.</summary>
    private void ResetToBlue()
    {
        if (!_stack.ThroughNginx().StartsWith("blue", StringComparison.Ordinal))
            Switch(new SwitchOptions { To = "blue", Force = true, AnalysisRequests = 0, HealthyProbes = 1, Monitor = TimeSpan.Zero, MinReloadInterval = TimeSpan.Zero })
                .GetAwaiter().GetResult();
        Assert.StartsWith("blue", _stack.ThroughNginx());
    }

    [DockerFact]
    public async Task The_state_names_blue_active_with_both_colours_from_swarm_and_the_nginx_processes()
    {
        var state = await TrafficService.GetStateAsync(Context());

        Assert.Equal("blue", state.ActiveColor);
        Assert.Equal(["blue", "green"], state.Colors.Select(c => c.Color));
        Assert.Equal([$"127.0.0.1:{_stack.BluePort}"], state.Colors[0].Backends);
        Assert.Equal([$"127.0.0.1:{_stack.GreenPort}"], state.Colors[1].Backends);
        Assert.All(state.Colors, c => Assert.Equal("Swarm", c.Source));
        Assert.All(state.Colors, c => Assert.Equal(Status.OK, c.Status));
        Assert.Equal([_stack.ServiceName("green")], state.Colors[1].Services);
        Assert.True(state.Colors[0].Active);
        Assert.False(state.Colors[1].Active);
        Assert.Equal(_stack.Nginx.MasterPid, state.NginxMasterPid);
        Assert.Equal(_stack.Nginx.Workers(), state.NginxWorkers);
    }

    [DockerFact]
    public async Task A_switch_to_the_idle_colour_is_reloaded_once_confirmed_through_nginx_and_recorded()
    {
        var reloads = _stack.Nginx.Reloads;
        var workers = _stack.Nginx.Workers();

        var record = await Switch(Quick);

        Assert.Equal(("blue", "green"), (record.From, record.To));
        Assert.False(record.RolledBack, record.RollbackReason);
        Assert.Equal(reloads + 1, _stack.Nginx.Reloads);
        Assert.Equal(workers, record.PreviousWorkers);
        Assert.Empty(record.Workers.Intersect(workers));
        Assert.Equal(2L, record.HealthyProbes);
        Assert.Equal(40, record.AnalysisRequests);
        Assert.Equal(1.0, record.AnalysisSuccessRate);
        Assert.Equal((long)TrafficService.ConfirmationProbes, record.ConfirmationProbes);
        Assert.True(record.MonitorRequests > 0);
        Assert.Equal(0, record.MonitorFailed);
        Assert.StartsWith("green ", _stack.ThroughNginx());
        var file = TrafficFile.Parse(File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Upstream, _stack.Nginx.TrafficFile);
        Assert.Equal("green", file.Color);
        Assert.Equal([$"127.0.0.1:{_stack.GreenPort}"], file.Servers);
        Assert.True(record.KeepPreviousUntil >= record.Finished.AddSeconds(25));
        var history = await DeploymentHistory.ReadAsync(Context());
        Assert.Equal(("blue", "green", record.Started), (history[0].From, history[0].To, history[0].Started));
        Assert.Equal("green", (await TrafficService.GetStateAsync(Context())).ActiveColor);
    }

    [DockerFact]
    public async Task Rollback_switches_back_to_the_colour_the_last_switch_came_from()
    {
        await Switch(Quick);

        var back = await Switch(new SwitchOptions { Rollback = true, HealthyProbes = 1, AnalysisRequests = 10, Monitor = TimeSpan.Zero, MinReloadInterval = TimeSpan.FromSeconds(1) });

        Assert.Equal(("green", "blue"), (back.From, back.To));
        Assert.StartsWith("blue ", _stack.ThroughNginx());
    }

    [DockerFact]
    public async Task An_unhealthy_target_is_refused_and_nothing_changes()
    {
        var environment = WithColors($"127.0.0.1:{TestEnvironments.ClosedPort()}");
        var before = (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads);

        var error = await Assert.ThrowsAsync<PuoException>(() => Switch(Quick, environment));

        Assert.Equal("PuoOps.Deployment.TargetNotReady", error.ErrorId);
        Assert.Contains("health probe 1 of 2", error.Message);
        Assert.Equal(before, (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads));
        Assert.StartsWith("blue ", _stack.ThroughNginx());
    }

    [DockerFact]
    public async Task A_target_slower_than_MaxP99_is_refused_and_nothing_changes()
    {
        var before = (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads);

        var error = await Assert.ThrowsAsync<PuoException>(() => Switch(new SwitchOptions
        {
            HealthyProbes = 1, AnalysisRequests = 20, MaxP99 = TimeSpan.FromTicks(1), Monitor = TimeSpan.Zero,
        }));

        Assert.Equal("PuoOps.Deployment.TargetNotReady", error.ErrorId);
        Assert.Contains("P99", error.Message);
        Assert.Equal(before, (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads));
    }

    [DockerFact]
    public async Task A_traffic_file_nginx_refuses_is_put_back_and_traffic_never_drops()
    {
        // nginx -t resolves upstream servers: a name that does not resolve fails the test after the file was written.
        var environment = WithColors("no-such-backend.invalid:80");
        var before = (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads);
        using var load = new LoadLoop(_stack.Nginx.Port, concurrency: 4, maxRequests: 100_000);

        var error = await Assert.ThrowsAsync<PuoException>(() => Switch(new SwitchOptions { Force = true, HealthyProbes = 1, AnalysisRequests = 0, Monitor = TimeSpan.Zero }, environment));
        await Task.Delay(300); // traffic keeps flowing after the refusal, too
        var figures = load.Stop();

        Assert.Equal("PuoOps.Nginx.ConfigInvalid", error.ErrorId);
        Assert.Contains("no-such-backend.invalid", error.Message);
        Assert.Contains("put back; nginx was not reloaded", error.Message);
        Assert.Equal(before, (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads));
        Assert.True(figures.Requests > 0);
        Assert.True(figures.Failed == 0, string.Join("\n", figures.Failures));
        Assert.Equal(["blue"], figures.Colors.Keys);
    }

    [DockerFact]
    public async Task A_broken_nginx_configuration_is_refused_before_anything_changes()
    {
        // Someone broke nginx.conf since the last reload: nginx -t refuses the whole configuration, so the plan stops.
        var config = File.ReadAllText(_stack.Nginx.Config);
        var before = (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads);
        File.WriteAllText(_stack.Nginx.Config, config.Replace("http {", "http {\n    no_such_directive on;", StringComparison.Ordinal));
        try
        {
            var error = await Assert.ThrowsAsync<PuoException>(() => Switch(new SwitchOptions { HealthyProbes = 1, AnalysisRequests = 20, Monitor = TimeSpan.Zero }));

            Assert.Equal("PuoOps.Nginx.ConfigInvalid", error.ErrorId);
            Assert.Contains("no_such_directive", error.Message);
            Assert.Equal(before, (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads));
            Assert.StartsWith("blue ", _stack.ThroughNginx());
        }
        finally
        {
            File.WriteAllText(_stack.Nginx.Config, config);
        }
    }

    [DockerFact]
    public async Task A_target_that_dies_after_the_switch_is_rolled_back_within_the_watch_window()
    {
        var green = _stack.ServiceName("green");
        var options = Quick with { Monitor = TimeSpan.FromSeconds(30) };
        var switching = Switch(options);
        try
        {
            // Once traffic is on green, kill it.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.ReadAllText(_stack.Nginx.TrafficFile).Contains("# color: green") || !_stack.ThroughNginx().StartsWith("green", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "the switch to green did not happen");
                Assert.False(switching.IsFaulted, switching.Exception?.ToString());
                await Task.Delay(50);
            }
            ScratchProject.Docker("service", "scale", "--detach", $"{green}=0");

            var record = await switching;

            Assert.True(record.RolledBack);
            Assert.Matches("requests through nginx failed|stopped answering its health check", record.RollbackReason);
            Assert.True(record.MonitorFailed > 0 || record.RollbackReason!.Contains("health check"), record.RollbackReason);
            Assert.StartsWith("blue ", _stack.ThroughNginx());
            using (var after = new LoadLoop(_stack.Nginx.Port, concurrency: 4, maxRequests: 400))
            {
                var figures = after.Wait();
                Assert.Equal(0, figures.Failed);
                Assert.Equal(["blue"], figures.Colors.Keys);
            }
            var history = await DeploymentHistory.ReadAsync(Context());
            Assert.True(history[0].RolledBack);
        }
        finally
        {
            ScratchProject.Docker("service", "scale", "--detach", $"{green}=1");
            BlueGreenStack.WaitForVersion(_stack.GreenPort, "green");
        }
    }

    [DockerFact]
    public async Task Switches_in_a_row_never_reload_nginx_faster_than_the_minimum_interval()
    {
        var options = new SwitchOptions { HealthyProbes = 1, AnalysisRequests = 0, Monitor = TimeSpan.Zero, MinReloadInterval = TimeSpan.FromSeconds(2) };
        var first = _stack.Nginx.Reloads;

        await Switch(options);
        await Switch(options);
        await Switch(options);

        // nginx stamps each "signal 1 (SIGHUP) received" line to the second: with 2 s between reloads, no two share a second
        // and consecutive stamps are at least 1 s apart.
        var stamps = File.ReadAllLines(_stack.Nginx.ErrorLog).Where(l => l.Contains("signal 1 (SIGHUP) received", StringComparison.Ordinal))
            .Skip(first).Select(l => DateTime.ParseExact(l[..19], "yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(3, stamps.Count);
        Assert.All(stamps.Zip(stamps.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromSeconds(1), $"{pair.First:T} then {pair.Second:T}"));
    }

    [DockerFact]
    public async Task Under_load_a_switch_there_and_back_fails_no_request_and_every_answer_comes_from_one_colour()
    {
        using var load = new LoadLoop(_stack.Nginx.Port, concurrency: 8, maxRequests: 5000);
        var options = new SwitchOptions { HealthyProbes = 3, AnalysisRequests = 100, Monitor = TimeSpan.FromSeconds(1), MinReloadInterval = TimeSpan.FromSeconds(1) };

        var there = await Switch(options);
        var back = await Switch(options with { To = "blue" });
        var figures = load.Wait();

        Assert.False(there.RolledBack || back.RolledBack, there.RollbackReason ?? back.RollbackReason);
        Assert.Equal(5000, figures.Requests);
        Assert.True(figures.Failed == 0, string.Join("\n", figures.Failures));
        Assert.Equal(figures.Requests, figures.Colors.Values.Sum());
        Assert.All(figures.Colors.Keys, c => Assert.Contains(c, new[] { "blue", "green" }));
    }

    private PuoEnvironment WithColors(string green) => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = "bg-" + Guid.NewGuid().ToString("N")[..8], NginxConfig = _stack.Nginx.Config, TrafficFile = _stack.Nginx.TrafficFile, Upstream = _stack.Upstream,
        Colors = new Dictionary<string, IReadOnlyList<string>> { ["blue"] = [$"127.0.0.1:{_stack.BluePort}"], ["green"] = [green] },
    });
}

/// <summary>
/// A bounded client load through nginx, like a browser or curl: keep-alive connections, each GET /version counted as
/// failed on a non-2xx answer or a transport error on a fresh connection. A graceful reload closes idle keep-alive
/// connections, so a GET sent on a reused connection that got no response before it closed is sent again once, as
/// RFC 9112 9.3.1 allows; those are counted as Retried, not hidden. Each sender has one connection at a time, so a
/// request that opened none rode on a reused one. Each answer's first word (the colour) is tallied.
/// </summary>
public sealed class LoadLoop : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, long> _colors = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly Task[] _senders;
    private long _issued;
    private long _requests;
    private long _retried;

    public LoadLoop(int port, int concurrency, long maxRequests)
    {
        var url = $"http://127.0.0.1:{port}/version";
        _senders = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            var connections = 0;
            using var client = new HttpClient(new SocketsHttpHandler
            {
                MaxConnectionsPerServer = 1,
                ConnectCallback = async (context, token) =>
                {
                    Interlocked.Increment(ref connections);
                    var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                },
            }) { Timeout = TimeSpan.FromSeconds(10) };
            while (!_stop.IsCancellationRequested && Interlocked.Increment(ref _issued) <= maxRequests)
            {
                for (var attempt = 1; ; attempt++)
                {
                    var opened = Volatile.Read(ref connections);
                    try
                    {
                        using var response = await client.GetAsync(url);
                        var body = (await response.Content.ReadAsStringAsync()).Trim();
                        if (!response.IsSuccessStatusCode)
                            _failures.Enqueue($"HTTP {(int)response.StatusCode}");
                        else
                            _colors.AddOrUpdate(Regex.Match(body, @"^\S+").Value, 1, (_, n) => n + 1);
                    }
                    catch (HttpRequestException) when (attempt == 1 && Volatile.Read(ref connections) == opened)
                    {
                        Interlocked.Increment(ref _retried);
                        continue;
                    }
                    catch (Exception ex)
                    {
                        _failures.Enqueue(ex.GetBaseException().Message);
                    }
                    break;
                }
                Interlocked.Increment(ref _requests);
            }
        })).ToArray();
    }

    public sealed record Figures(long Requests, long Failed, long Retried, IReadOnlyDictionary<string, long> Colors, IReadOnlyList<string> Failures);

    /// <summary>Waits (bounded) for every request to be sent and answered.</summary>
    public Figures Wait()
    {
        Assert.True(Task.WaitAll(_senders, TimeSpan.FromSeconds(120)), "the load loop did not finish within 120 s");
        return new(Interlocked.Read(ref _requests), _failures.Count, Interlocked.Read(ref _retried), _colors.ToDictionary(c => c.Key, c => c.Value), _failures.ToList());
    }

    public Figures Stop()
    {
        _stop.Cancel();
        return Wait();
    }

    public void Dispose()
    {
        _stop.Cancel();
        Task.WaitAll(_senders, TimeSpan.FromSeconds(30));
    }
}
