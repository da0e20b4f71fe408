using System.Management.Automation;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Docker;

/// <summary>The Docker cmdlets of the built module on a scratch compose project, as an operator runs them.</summary>
public sealed class DockerCmdletTests : IDisposable
{
    private readonly ModuleHost _host = new();
    private readonly ScratchProject _project = new("xunit-cmdlet");

    public void Dispose()
    {
        _project.Dispose();
        _host.Dispose();
    }

    private Dictionary<string, object?> Vars(params (string Name, object? Value)[] more)
    {
        var vars = new Dictionary<string, object?> { ["p"] = _project.Name };
        foreach (var (name, value) in more)
            vars[name] = value;
        return vars;
    }

    [DockerFact]
    public void Containers_piped_to_stats_give_one_sample_each()
    {
        _project.Add("api", 1);
        _project.Add("mcp", 1);
        var result = _host.Invoke("Get-PuoContainer -Project $p | Get-PuoContainerStats", Vars()).ThrowIfFailed();
        Assert.Equal(2, result.Output.Count);
        Assert.All(result.Output, o => Assert.Equal("PuoOps.ContainerStats", o.TypeNames[0]));
        Assert.Equal([$"{_project.Name}-api-1", $"{_project.Name}-mcp-1"], result.Output.Select(o => (string)o.Properties["Name"].Value).Order());
        Assert.All(result.Output, o => Assert.True((long)o.Properties["MemoryUsage"].Value > 0));
    }

    [DockerFact]
    public void Restart_with_WhatIf_changes_nothing_and_for_real_waits_until_healthy()
    {
        var api = _project.Add("api", 1);
        ScratchProject.WaitHealthy(api);
        var startedAt = ScratchProject.Inspect(api, "{{.State.StartedAt}}");

        var whatIf = _host.Invoke("Restart-PuoService api -Project $p -WhatIf", Vars()).ThrowIfFailed();
        Assert.Empty(whatIf.Output);
        Assert.Equal(startedAt, ScratchProject.Inspect(api, "{{.State.StartedAt}}"));

        var real = _host.Invoke("Restart-PuoService api -Project $p -Wait -WaitTimeout '30s'", Vars()).ThrowIfFailed();
        var change = Assert.Single(real.Output);
        Assert.Equal(api, change.Properties["Target"].Value);
        Assert.Equal("Restart", change.Properties["Action"].Value);
        Assert.Equal("running", change.Properties["After"].Value);
        Assert.Equal("healthy", change.Properties["Health"].Value);
        Assert.NotEqual(startedAt, ScratchProject.Inspect(api, "{{.State.StartedAt}}"));
    }

    [DockerFact]
    public void Stop_is_high_impact_and_stops_every_container_then_start_brings_them_back()
    {
        var api1 = _project.Add("api", 1);
        var api2 = _project.Add("api", 2);
        var other = _project.Add("db", 1);
        var attribute = (CmdletAttribute)Attribute.GetCustomAttribute(
            (Type)_host.Invoke("(Get-Command Stop-PuoService).ImplementingType").Output[0].BaseObject, typeof(CmdletAttribute))!;
        Assert.Equal(ConfirmImpact.High, attribute.ConfirmImpact);

        // Piped from Get-PuoContainer: two containers of one service, acted on once.
        var stop = _host.Invoke("Get-PuoContainer -Project $p -Service api | Stop-PuoService -Confirm:$false", Vars()).ThrowIfFailed();
        Assert.Equal(2, stop.Output.Count);
        Assert.All(stop.Output, o => Assert.Equal("exited", o.Properties["After"].Value));
        Assert.Equal("false", ScratchProject.Inspect(api1, "{{.State.Running}}"));
        Assert.Equal("false", ScratchProject.Inspect(api2, "{{.State.Running}}"));
        Assert.Equal("true", ScratchProject.Inspect(other, "{{.State.Running}}"));

        var start = _host.Invoke("Start-PuoService api -Project $p -Wait -WaitTimeout '30s'", Vars()).ThrowIfFailed();
        Assert.All(start.Output, o => Assert.True((bool)o.Properties["Changed"].Value));
        Assert.Equal("true", ScratchProject.Inspect(api1, "{{.State.Running}}"));
        Assert.Equal("healthy", ScratchProject.Inspect(api2, "{{.State.Health.Status}}"));
    }

    [DockerFact]
    public void An_unknown_service_is_object_not_found_and_the_next_one_is_still_restarted()
    {
        _project.Add("api", 1);
        var result = _host.Invoke("Restart-PuoService xunit-nothere, api -Project $p", Vars());
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Docker.ServiceNotFound", error.FullyQualifiedErrorId);
        Assert.Equal("xunit-nothere", error.TargetObject);
        Assert.Equal("api", Assert.Single(result.Output).Properties["Service"].Value);
    }

    [DockerFact]
    public void Waiting_for_an_unhealthy_container_times_out_naming_it()
    {
        var sick = _project.Add("sick", 1, healthy: false, extra: ["--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1"]);
        var result = _host.Invoke("Restart-PuoService sick -Project $p -Wait -WaitTimeout '4s'", Vars());
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
        Assert.Contains(sick, error.Exception.Message);
    }

    [DockerFact]
    public void Compose_scale_clones_a_replica_with_the_next_number_then_removes_the_highest()
    {
        var api1 = _project.Add("api", 1);
        var up = _host.Invoke("Set-PuoServiceScale -Service api -Replicas 3 -Project $p -WaitTimeout '30s'", Vars()).ThrowIfFailed();
        var scale = Assert.Single(up.Output);
        Assert.Equal(1L, scale.Properties["Before"].Value);
        Assert.Equal(3L, scale.Properties["After"].Value);
        Assert.True((bool)scale.Properties["Converged"].Value);
        var api3 = $"{_project.Name}-api-3";
        Assert.Equal("3", ScratchProject.Inspect(api3, "{{index .Config.Labels \"com.docker.compose.container-number\"}}"));
        Assert.Equal(ScratchProject.Inspect(api1, "{{json .Config.Cmd}}"), ScratchProject.Inspect(api3, "{{json .Config.Cmd}}"));
        Assert.Equal(_project.Name, ScratchProject.Inspect(api3, "{{index .Config.Labels \"com.docker.compose.project\"}}"));

        var whatIf = _host.Invoke("Set-PuoServiceScale api 1 -Project $p -WhatIf", Vars()).ThrowIfFailed();
        Assert.Empty(whatIf.Output);
        Assert.Equal(3, _host.Invoke("@(Get-PuoContainer -Project $p -Service api).Count", Vars()).Output[0].BaseObject);

        var zero = _host.Invoke("Set-PuoServiceScale api 0 -Project $p -Confirm:$false", Vars());
        var refused = Assert.Single(zero.Errors);
        Assert.Equal(ErrorCategory.InvalidArgument, refused.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Docker.ScaleToZeroNeedsForce", refused.FullyQualifiedErrorId);
        Assert.Empty(_host.Invoke("Set-PuoServiceScale api 0 -Project $p -WhatIf", Vars()).ThrowIfFailed().Output);
        Assert.Equal(3, _host.Invoke("@(Get-PuoContainer -Project $p -Service api).Count", Vars()).Output[0].BaseObject);

        var down = _host.Invoke("Set-PuoServiceScale api 1 -Project $p", Vars()).ThrowIfFailed();
        Assert.Equal([api3, $"{_project.Name}-api-2"], (string[])Assert.Single(down.Output).Properties["Removed"].Value);
        var left = _host.Invoke("Get-PuoContainer -Project $p -Service api", Vars()).ThrowIfFailed();
        Assert.Equal(api1, Assert.Single(left.Output).Properties["Name"].Value);
    }

    [DockerFact]
    public void Service_logs_are_objects_that_filter_by_stream_and_carry_times_on_request()
    {
        var api = _project.Add("api", 1);
        Thread.Sleep(1500);
        var stderr = _host.Invoke("Get-PuoServiceLog api -Project $p -Tail 6 | Where-Object Stream -eq stderr", Vars()).ThrowIfFailed();
        Assert.NotEmpty(stderr.Output);
        Assert.All(stderr.Output, o => Assert.Matches("^api err [0-9]+$", (string)o.Properties["Message"].Value));
        Assert.All(stderr.Output, o => Assert.Equal(api, o.Properties["Container"].Value));

        var plain = _host.Invoke("Get-PuoServiceLog api -Project $p -Tail 1", Vars()).ThrowIfFailed();
        Assert.Null(Assert.Single(plain.Output).Properties["Time"].Value);
        var stamped = _host.Invoke("Get-PuoServiceLog api -Project $p -Tail 1 -Timestamps", Vars()).ThrowIfFailed();
        var line = Assert.Single(stamped.Output);
        Assert.Matches("^api (out|err) [0-9]+$", (string)line.Properties["Message"].Value);
        var time = Assert.IsType<DateTimeOffset>(line.Properties["Time"].Value);
        Assert.InRange(time, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));

        var future = _host.Invoke("Get-PuoServiceLog api -Project $p -Since (Get-Date).AddHours(1)", Vars()).ThrowIfFailed();
        Assert.Empty(future.Output);
    }

    [DockerFact]
    public void Piped_containers_are_read_together()
    {
        var api = _project.Add("api", 1);
        var mcp = _project.Add("mcp", 1);
        Thread.Sleep(1000);
        var result = _host.Invoke("Get-PuoContainer -Project $p | Get-PuoServiceLog -Tail 2", Vars()).ThrowIfFailed();
        Assert.Equal(4, result.Output.Count);
        Assert.Equal([api, mcp], result.Output.Select(o => (string)o.Properties["Container"].Value).Distinct().Order());
    }

    [DockerFact]
    public void Follow_streams_new_lines_until_stopped()
    {
        _project.Add("api", 1);
        // Lines go to a list as they arrive, so they can be read after Ctrl+C stopped the pipeline.
        var (shell, pending) = _host.Start(
            $"$global:followed = [System.Collections.Generic.List[object]]::new(); Get-PuoServiceLog api -Project '{_project.Name}' -Tail 0 -Follow | ForEach-Object {{ $global:followed.Add($_) }}");
        using (shell)
        {
            // -Tail 0 returns nothing old, so whatever comes out was streamed while following.
            Thread.Sleep(2500);
            Assert.False(pending.IsCompleted, "-Follow ended on its own");
            var stop = shell.BeginStop(null, null);
            Assert.True(stop.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "Ctrl+C did not stop -Follow");
            Assert.Throws<PipelineStoppedException>(() => shell.EndInvoke(pending));
        }
        var followed = _host.Invoke("$global:followed").ThrowIfFailed().Output;
        Assert.NotEmpty(followed);
        Assert.All(followed, o => Assert.Matches("^api (out|err) [0-9]+$", (string)o.Properties["Message"].Value));
    }

    [DockerFact]
    public void Images_list_the_sandbox_image_and_the_containers_using_it()
    {
        var api = _project.Add("api", 1);
        var result = _host.Invoke("Get-PuoImage puo-busybox", Vars()).ThrowIfFailed();
        var image = Assert.Single(result.Output);
        Assert.Contains("puo-busybox:latest", (string[])image.Properties["Tags"].Value);
        Assert.Contains(api, (string[])image.Properties["Containers"].Value);
    }

    [DockerFact]
    public void An_unreachable_daemon_is_a_connection_error_naming_the_host()
    {
        var result = _host.Invoke(
            "Get-PuoContainer -Environment (Connect-PuoEnvironment -Name xunit-nodocker -DockerHost unix:///tmp/xunit-nodocker.sock -SkipCheck -NoDefault -PassThru)");
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Docker.Connect", error.FullyQualifiedErrorId);
        Assert.Contains("unix:///tmp/xunit-nodocker.sock", error.ToString());
    }
}
