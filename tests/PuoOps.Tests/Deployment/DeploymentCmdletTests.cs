using System.Management.Automation;
using PuoOps.Tests.Docker;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Deployment;

/// <summary>
/// The deployment cmdlets in the built module against a real blue-green pair: Publish-PuoDeployment creating and
/// updating the idle colour's Swarm service and refusing the active one, Switch-PuoTraffic's -WhatIf and record,
/// Get-PuoTrafficState and Get-PuoDeploymentHistory, their views at 80 columns, and their errors.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DeploymentCmdletTests : IClassFixture<BlueGreenStack>, IDisposable
{
    private readonly BlueGreenStack _stack;
    private readonly ModuleHost _host = new(connectSandbox: false);
    private readonly string _tag = "puo-busybox:bg-" + Guid.NewGuid().ToString("N")[..8];

    public DeploymentCmdletTests(BlueGreenStack stack)
    {
        _stack = stack;
        if (Sandbox.Current.DockerAvailable)
            _host.Invoke(_stack.ConnectScript("bg")).ThrowIfFailed();
    }

    public void Dispose()
    {
        _host.Dispose();
        try
        {
            ScratchProject.Docker("image", "rm", _tag);
        }
        catch (InvalidOperationException)
        {
            // never tagged, or still in use by a task being removed: the image itself stays (the sandbox's)
        }
    }

    [DockerFact]
    public void Publish_updates_the_idle_colour_to_the_new_image_and_waits_until_it_answers()
    {
        ScratchProject.Docker("tag", BlueGreenStack.Image, _tag);

        var result = _host.Invoke($"Publish-PuoDeployment -Environment bg -Color green -Image {_tag} -EnvironmentVariable @{{ FEATURE = 'on' }} -Confirm:$false").ThrowIfFailed();

        var deployed = result.Output.Single();
        Assert.Equal("Updated", deployed.Properties["Action"].Value);
        Assert.Equal(BlueGreenStack.Image, deployed.Properties["PreviousImage"].Value);
        Assert.Equal(Status.OK, deployed.Properties["Status"].Value);
        Assert.Equal($"green {_tag}", BlueGreenStack.Get(_stack.GreenPort, "version"));
        Assert.Contains("FEATURE=on", ScratchProject.Docker("service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", _stack.ServiceName("green")));
        Assert.StartsWith("blue ", _stack.ThroughNginx()); // the active colour and nginx untouched
    }

    [DockerFact]
    public void Publish_creates_a_missing_colour_from_the_active_colours_spec()
    {
        ScratchProject.Docker("tag", BlueGreenStack.Image, _tag);
        var port = BlueGreenStack.FreePort();
        var name = $"bg-{_stack.Id}-teal";

        var result = _host.Invoke($"Publish-PuoDeployment -Environment bg -Color teal -Image {_tag} -Port {port} -Confirm:$false").ThrowIfFailed();

        var deployed = result.Output.Single();
        Assert.Equal("Created", deployed.Properties["Action"].Value);
        Assert.Equal([name], ((IEnumerable<string>)deployed.Properties["Services"].Value).ToList());
        Assert.Equal($"teal {_tag}", BlueGreenStack.Get(port, "version"));
        Assert.Equal($"teal {port} {_stack.Upstream}",
            ScratchProject.Docker("service", "inspect", "--format", "{{index .Spec.Labels \"puo.color\"}} {{index .Spec.Labels \"puo.port\"}} {{index .Spec.Labels \"puo.upstream\"}}", name));
        ScratchProject.Docker("service", "rm", name);
    }

    [DockerFact]
    public void Publish_with_a_compose_file_runs_docker_stack_deploy_and_waits_for_the_labelled_service()
    {
        var port = BlueGreenStack.FreePort();
        var project = "bg" + _stack.Id;
        var file = Path.Combine(_stack.Nginx.Directory, "docker-compose.prod.yml");
        File.WriteAllText(file, $$"""
            version: "3.8"
            services:
              web:
                image: {{BlueGreenStack.Image}}
                command: ["sh", "-c", {{System.Text.Json.JsonSerializer.Serialize(BlueGreenStack.Script.Replace("$", "$$"))}}]
                environment: { PORT: "{{port}}", PUO_COLOR: "orange", PUO_IMAGE: "stack" }
                networks: [hostnet]
                deploy:
                  labels: { puo.color: orange, puo.port: "{{port}}", puo.upstream: {{_stack.Upstream}} }
            networks:
              hostnet:
                external: true
                name: host
            """);
        _host.Invoke($"Connect-PuoEnvironment bgc -Environment bg -ComposeProject {project} -SkipCheck").ThrowIfFailed();
        try
        {
            var result = _host.Invoke($"Publish-PuoDeployment -Environment bgc -Color orange -ComposeFile '{file}' -WaitSec 60 -Confirm:$false").ThrowIfFailed();

            var deployed = result.Output.Single();
            Assert.Equal("StackDeployed", deployed.Properties["Action"].Value);
            Assert.Equal([$"{project}-orange_web"], ((IEnumerable<string>)deployed.Properties["Services"].Value).ToList());
            Assert.Equal(Status.OK, deployed.Properties["Status"].Value);
            Assert.Equal("orange stack", BlueGreenStack.Get(port, "version"));
        }
        finally
        {
            ScratchProject.Docker("stack", "rm", $"{project}-orange");
        }
    }

    [DockerFact]
    public void Publish_refuses_the_active_colour_and_a_new_colour_without_a_port()
    {
        var active = _host.Invoke("Publish-PuoDeployment -Environment bg -Color blue -Image x:1 -Confirm:$false");
        var noPort = _host.Invoke("Publish-PuoDeployment -Environment bg -Color violet -Image x:1 -Confirm:$false");

        Assert.Equal("PuoOps.Deployment.ActiveColor", active.Errors.Single().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidOperation, active.Errors.Single().CategoryInfo.Category);
        Assert.Equal("PuoOps.Deployment.Port", noPort.Errors.Single().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(BlueGreenStack.Image, ScratchProject.Docker("service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", _stack.ServiceName("blue")));
    }

    [DockerFact]
    public void Switch_WhatIf_changes_nothing_and_its_plan_names_every_step()
    {
        var before = (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads);

        var result = _host.Invoke("Switch-PuoTraffic -Environment bg -WhatIf").ThrowIfFailed();
        var ctx = TestEnvironments.Context(_stack.Environment());
        var options = new PuoOps.Engine.Deployment.SwitchOptions();
        var plan = PuoOps.Engine.Deployment.TrafficService.PlanAsync(ctx, options).GetAwaiter().GetResult().Describe(options);

        Assert.Empty(result.Output);
        Assert.Equal(before, (File.ReadAllText(_stack.Nginx.TrafficFile), _stack.Nginx.Reloads));
        foreach (var step in new[] { "from blue to green", "3 consecutive /health probes", "200 requests with P99 <= 500 ms", _stack.Nginx.TrafficFile,
                     "nginx -t", "one graceful reload", $"/version through http://127.0.0.1:{_stack.Nginx.Port}/", "watch errors and P99 for 30 s", "roll back to blue" })
            Assert.Contains(step, plan);
    }

    [DockerFact]
    public void Switch_returns_its_record_state_and_history_follow_and_the_views_fit_80_columns()
    {
        var result = _host.Invoke("""
            $switch = Switch-PuoTraffic -Environment bg -To green -HealthyProbes 2 -AnalysisRequests 20 -MonitorSec 1 -MinReloadInterval 1s -Confirm:$false
            $state = Get-PuoTrafficState -Environment bg
            $history = Get-PuoDeploymentHistory -Environment bg -First 1
            $back = Switch-PuoTraffic -Environment bg -Rollback -HealthyProbes 1 -AnalysisRequests 0 -MonitorSec 0 -MinReloadInterval 1s -Confirm:$false
            $switch, $state, $history, $back
            ($switch, $state, $state.Colors, $history) | ForEach-Object { $_ | Out-String -Width 80 -Stream } | Where-Object { $_.Length -gt 80 }
            """).ThrowIfFailed();

        var (record, state, history, back) = (result.Output[0], result.Output[1], result.Output[2], result.Output[3]);
        Assert.Equal(("blue", "green", false), ((string)record.Properties["From"].Value, (string)record.Properties["To"].Value, (bool)record.Properties["RolledBack"].Value));
        Assert.Equal("green", state.Properties["ActiveColor"].Value);
        Assert.Equal(_stack.Nginx.MasterPid, state.Properties["NginxMasterPid"].Value);
        Assert.Equal(record.Properties["Started"].Value, history.Properties["Started"].Value);
        Assert.Equal(("green", "blue"), ((string)back.Properties["From"].Value, (string)back.Properties["To"].Value));
        Assert.Equal(4, result.Output.Count); // no view line wider than 80 columns
        Assert.StartsWith("blue ", _stack.ThroughNginx());
    }

    [DockerFact]
    public void Bad_colours_are_refused_by_Connect_and_an_unknown_target_by_Switch()
    {
        var badColor = _host.Invoke("Connect-PuoEnvironment bad -Color @{ blue = 'not a backend'; green = '127.0.0.1:1' } -SkipCheck");
        var unknown = _host.Invoke("Switch-PuoTraffic -Environment bg -To purple -Confirm:$false");

        Assert.Equal("PuoOps.Deployment.Colors", badColor.Errors.Single().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, badColor.Errors.Single().CategoryInfo.Category);
        Assert.Equal("PuoOps.Deployment.NoSuchColor", unknown.Errors.Single().FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.ObjectNotFound, unknown.Errors.Single().CategoryInfo.Category);
    }

    [DockerFact]
    public void Ctrl_C_stops_a_switch_in_its_watch_window_the_switch_stands_and_the_history_says_so()
    {
        var (shell, pending) = _host.Start("Switch-PuoTraffic -Environment bg -To green -HealthyProbes 1 -AnalysisRequests 0 -MonitorSec 60 -MinReloadInterval 1s -Confirm:$false");
        using (shell)
        {
            // Inside the watch window, as its progress says (a stop during the reload or the confirmation rolls back).
            using var watching = new ManualResetEventSlim();
            shell.Streams.Progress.DataAdded += (_, e) =>
            {
                if (shell.Streams.Progress[e.Index].StatusDescription.StartsWith("Watching green", StringComparison.Ordinal))
                    watching.Set();
            };
            Assert.True(watching.Wait(TimeSpan.FromSeconds(60)), "the switch did not reach its watch window");
            Assert.False(pending.IsCompleted, "the 60 s watch window ended on its own");
            var stop = shell.BeginStop(null, null);
            Assert.True(stop.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "Ctrl+C did not stop Switch-PuoTraffic");
            Assert.Throws<PipelineStoppedException>(() => shell.EndInvoke(pending));
        }
        Assert.StartsWith("green ", _stack.ThroughNginx());
        var last = _host.Invoke("Get-PuoDeploymentHistory -Environment bg -First 1").ThrowIfFailed().Output.Single();
        Assert.Equal(("green", "watch window stopped by Ctrl+C"), ((string)last.Properties["To"].Value, (string)last.Properties["Note"].Value));
        _host.Invoke("Switch-PuoTraffic -Environment bg -To blue -HealthyProbes 1 -AnalysisRequests 0 -MonitorSec 0 -MinReloadInterval 1s -Confirm:$false").ThrowIfFailed();
    }
}
