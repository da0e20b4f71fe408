using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Docker;

/// <summary>
/// The service cmdlets on a Swarm service: scale until converged, restart, stop/start, logs by task. The sandbox's engine
/// is a single-node swarm (tests/Sandbox/Sandbox.ps1; its blue and green run on it), so the tests only add services.
/// </summary>
public sealed class SwarmTests : IDisposable
{
    private readonly ModuleHost _host = new();
    private readonly string _service = "xunit-swarm-" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose()
    {
        try
        {
            ScratchProject.Docker("service", "rm", _service);
        }
        catch (InvalidOperationException)
        {
            // never created (skipped test)
        }
        _host.Dispose();
    }

    private void CreateService(int replicas)
    {
        ScratchProject.Docker("service", "create", "--detach", "--name", _service, "--replicas", replicas.ToString(), "--network", "host",
            "--stop-grace-period", "1s", "-e", "SVC=swarm", "--no-resolve-image",
            Sandbox.Current.State.GetProperty("Docker").GetProperty("Image").GetString()!, "sh", "-c", ScratchProject.ChattyScript);
    }

    private int RunningTasks() =>
        ScratchProject.Docker("service", "ps", _service, "--filter", "desired-state=running", "--format", "{{.CurrentState}}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(s => s.StartsWith("Running", StringComparison.Ordinal));

    private Dictionary<string, object?> Vars => new() { ["s"] = _service };

    [DockerFact]
    public void Scale_waits_until_the_swarm_service_converged()
    {
        CreateService(1);
        var result = _host.Invoke("Set-PuoServiceScale -Service $s -Replicas 3 -WaitTimeout '60s'", Vars).ThrowIfFailed();
        var scale = Assert.Single(result.Output);
        Assert.Equal("Swarm", scale.Properties["Kind"].Value);
        Assert.Equal(1L, scale.Properties["Before"].Value);
        Assert.Equal(3L, scale.Properties["After"].Value);
        Assert.True((bool)scale.Properties["Converged"].Value);
        Assert.Equal(3, RunningTasks());
    }

    [DockerFact]
    public void Stop_scales_to_zero_and_start_restores_the_replica_count_and_restart_replaces_tasks()
    {
        CreateService(2);
        _host.Invoke("Set-PuoServiceScale $s 2 -WaitTimeout '60s'", Vars).ThrowIfFailed(); // waits for convergence

        var stop = _host.Invoke("Stop-PuoService $s -Wait -WaitTimeout '60s' -Confirm:$false", Vars).ThrowIfFailed();
        Assert.Equal("0/0 running", Assert.Single(stop.Output).Properties["After"].Value);
        Assert.Equal(0, RunningTasks());

        var start = _host.Invoke("Start-PuoService $s -Wait -WaitTimeout '60s'", Vars).ThrowIfFailed();
        Assert.Equal("2/2 running", Assert.Single(start.Output).Properties["After"].Value);

        var before = ScratchProject.Docker("service", "ps", _service, "--filter", "desired-state=running", "--format", "{{.ID}}");
        var restart = _host.Invoke("Restart-PuoService $s -Wait -WaitTimeout '60s'", Vars).ThrowIfFailed();
        Assert.Equal("2/2 running", Assert.Single(restart.Output).Properties["After"].Value);
        var after = ScratchProject.Docker("service", "ps", _service, "--filter", "desired-state=running", "--format", "{{.ID}}");
        Assert.Empty(before.Split('\n').Intersect(after.Split('\n')));
    }

    [DockerFact]
    public void Service_logs_name_each_line_by_its_task()
    {
        CreateService(2);
        _host.Invoke("Set-PuoServiceScale $s 2 -WaitTimeout '60s'", Vars).ThrowIfFailed();
        Thread.Sleep(1500);
        var result = _host.Invoke("Get-PuoServiceLog $s -Tail 4", Vars).ThrowIfFailed();
        Assert.NotEmpty(result.Output);
        Assert.All(result.Output, o => Assert.Matches($"^{_service}\\.[12]$", (string)o.Properties["Container"].Value));
        Assert.All(result.Output, o => Assert.Matches("^swarm (out|err) [0-9]+$", (string)o.Properties["Message"].Value));
        Assert.Contains(result.Output, o => (string)o.Properties["Stream"].Value == "stderr");
    }
}
