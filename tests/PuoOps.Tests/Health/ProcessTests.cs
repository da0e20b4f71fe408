using System.Diagnostics;
using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Docker;
using PuoOps.Engine.Environments;
using PuoOps.Engine.Health;
using PuoOps.Tests.Docker;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Health;

/// <summary>
/// Get-PuoProcess: /proc read right, CPU sampled, secrets masked, and processes mapped to the sandbox's real containers
/// (the puo-memo api and mcp containers are processes on this host). Processes a test needs it starts itself, and kills by pid.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // /proc, file modes
public sealed class ProcessTests : IDisposable
{
    private readonly List<Process> _started = [];

    public void Dispose()
    {
        foreach (var process in _started)
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
            process.Dispose();
        }
    }

    private Process Start(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        _started.Add(process);
        return process;
    }

    private static Task<ProcessListing> ListAsync(PuoEnvironment environment, ProcessQuery query) =>
        ProcessService.ListAsync(TestEnvironments.Context(environment), query);

    [Theory]
    [InlineData(new[] { "psql", "--password", "hunter2", "-h", "db" }, "psql --password *** -h db")]
    [InlineData(new[] { "app", "--password=hunter2", "--db-password", "x y" }, "app --password=*** --db-password ***")]
    [InlineData(new[] { "redis-cli", "-a", "hunter2", "ping" }, "redis-cli -a *** ping")]
    [InlineData(new[] { "/usr/bin/redis-server", "--port", "6379", "--requirepass", "hunter2" }, "/usr/bin/redis-server --port 6379 --requirepass ***")]
    [InlineData(new[] { "tar", "-a", "-cf", "x.tgz" }, "tar -a -cf x.tgz")]
    [InlineData(new[] { "sh", "-c", "PGPASSWORD=hunter2 pg_dump -h db" }, "sh -c PGPASSWORD=*** pg_dump -h db")]
    [InlineData(new[] { "worker", "postgres://puo:hunter2@db:5432/puo_memo", "redis://:hunter2@cache:6379/0" },
        "worker postgres://puo:***@db:5432/puo_memo redis://:***@cache:6379/0")]
    [InlineData(new[] { "api", "Host=db;Password=hunter2;Database=puo" }, "api Host=db;Password=***;Database=puo")]
    [InlineData(new[] { "job", "--api-key", "k", "AWS_SECRET_ACCESS_KEY=s", "token=t&x=1" }, "job --api-key *** AWS_SECRET_ACCESS_KEY=*** token=***&x=1")]
    [InlineData(new[] { "psql", "--password", "-h", "db" }, "psql --password -h db")]
    [InlineData(new[] { "nginx", "-g", "daemon off;" }, "nginx -g daemon off;")]
    public void A_command_line_has_its_secrets_masked(string[] arguments, string expected) =>
        Assert.Equal(expected, SecretMask.CommandLine(arguments));

    [Fact]
    public void Sql_passwords_are_masked_in_query_text() =>
        Assert.Equal("ALTER ROLE puo PASSWORD '***' VALID UNTIL 'infinity'",
            SecretMask.Text("ALTER ROLE puo PASSWORD 'it''s hunter2' VALID UNTIL 'infinity'"));

    private const string Id = "b132955e71eac2d4c5c6626f64df281803fb8226b95b1b22f1edf691e9cf3e96";

    [Theory]
    [InlineData("0::/docker/" + Id, Id)] // cgroup v2, cgroupfs driver
    [InlineData("0::/system.slice/docker-" + Id + ".scope", Id)] // cgroup v2, systemd driver
    [InlineData("12:memory:/docker/" + Id + "\n11:cpu,cpuacct:/docker/" + Id + "\n0::/", Id)] // cgroup v1 (hybrid)
    [InlineData("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + Id + ".scope", Id)]
    [InlineData("0::/kubepods/besteffort/pod7c1e/" + Id, Id)]
    [InlineData("0::/machine.slice/libpod-" + Id + ".scope/container", Id)] // Podman
    [InlineData("0::/system.slice/crio-" + Id + ".scope", Id)]
    [InlineData("0::/docker/0000000000000000000000000000000000000000000000000000000000000000/docker/" + Id, Id)] // the innermost of nested containers
    [InlineData("0::/user.slice/user-0.slice/session-3.scope", null)]
    [InlineData("4:memory:/process_api/98d62aaa99c065ab070dfa1956e8d433\n0::/", null)] // 32 hex digits: not a container id
    [InlineData("0::/", null)]
    public void A_cgroup_path_names_the_container(string cgroup, string? expected) =>
        Assert.Equal(expected, ProcessService.ParseContainerId(cgroup));

    [Fact]
    public void Stat_is_parsed_with_a_comm_that_holds_spaces_and_parentheses()
    {
        var stat = ProcessService.ParseStat("4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 12345 10485760 256 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0");
        Assert.NotNull(stat);
        Assert.Equal(4242, stat.Pid);
        Assert.Equal("my (odd) proc", stat.Comm);
        Assert.Equal("S", stat.State);
        Assert.Equal(1, stat.ParentPid);
        Assert.Equal(300, stat.CpuTicks);
        Assert.Equal(3, stat.Threads);
        Assert.Equal(12345, stat.StartTicks);
        Assert.Equal(10485760, stat.VirtualBytes);
        Assert.Equal(256L * System.Environment.SystemPageSize, stat.ResidentBytes);
    }

    [Fact]
    public async Task A_process_started_here_is_listed_with_its_arguments_masked_its_user_and_start_time()
    {
        var started = DateTimeOffset.Now;
        var process = Start("sh", "-c", "sleep 60; :", "puo-secret-test", "--password", "hunter2", "--token=tok3n",
            "postgres://puo:s3cr3t@127.0.0.1:5432/db", "PGPASSWORD=pgpw", "Host=h;Password=cspw;Database=d");
        using var environment = TestEnvironments.Sandbox();
        var listing = await ListAsync(environment, new ProcessQuery { Names = [NamePattern.Parse("sh")], Take = null, SampleInterval = TimeSpan.FromMilliseconds(200) });
        var row = Assert.Single(listing.Processes, p => p.Pid == process.Id);
        Assert.Equal("sh -c sleep 60; : puo-secret-test --password *** --token=*** postgres://puo:***@127.0.0.1:5432/db PGPASSWORD=*** Host=h;Password=***;Database=d",
            row.CommandLine);
        Assert.Equal(process.Id, row.Id);
        Assert.Equal("sh", row.Name);
        Assert.Equal(System.Environment.UserName, row.User);
        Assert.Equal(System.Environment.ProcessId, row.ParentPid);
        Assert.Null(row.ContainerId);
        Assert.Null(row.Service);
        Assert.InRange(row.ResidentBytes, 1, 64L << 20);
        // Start times count from boot in 1/100 s, and boot time is known to the second.
        Assert.InRange(row.StartTime, started.AddSeconds(-2), DateTimeOffset.Now.AddSeconds(2));
        Assert.Equal(listing.Processes.Count, listing.TotalCount);
    }

    [Fact]
    public async Task A_busy_process_shows_its_sampled_cpu_and_cpu_sorting_puts_the_busiest_first()
    {
        var busy = Start("sh", "-c", "while :; do :; done");
        using var environment = TestEnvironments.Sandbox();
        var listing = await ListAsync(environment, new ProcessQuery { SortBy = ProcessSort.Cpu, Take = null, SampleInterval = TimeSpan.FromMilliseconds(500) });
        var row = Assert.Single(listing.Processes, p => p.Pid == busy.Id);
        // A busy loop takes a whole core unless the machine is saturated; even then it gets a fair share.
        Assert.True(row.CpuPercent > 5, $"a busy loop measured {row.CpuPercent}% CPU");
        Assert.True(row.CpuTime > TimeSpan.Zero);
        Assert.Equal(listing.Processes.OrderByDescending(p => p.CpuPercent).Select(p => p.CpuPercent), listing.Processes.Select(p => p.CpuPercent));
    }

    [Fact]
    public async Task Memory_sorting_is_largest_first_and_paging_takes_the_slice_asked_for()
    {
        using var environment = TestEnvironments.Sandbox();
        var all = await ListAsync(environment, new ProcessQuery { Take = null, SampleInterval = TimeSpan.FromMilliseconds(100) });
        Assert.True(all.Processes.Count > 5);
        Assert.Equal(all.Processes.OrderByDescending(p => p.ResidentBytes).Select(p => p.ResidentBytes), all.Processes.Select(p => p.ResidentBytes));
        var page = await ListAsync(environment, new ProcessQuery { Skip = 2, Take = 3, SampleInterval = TimeSpan.FromMilliseconds(100) });
        Assert.Equal(3, page.Processes.Count);
        Assert.True(page.TotalCount > 5);
        var kernelThread = all.Processes.FirstOrDefault(p => p.ParentPid == 2);
        if (kernelThread is not null) // none inside an unprivileged container
            Assert.Equal($"[{kernelThread.Name}]", kernelThread.CommandLine);
    }

    [DockerFact]
    public async Task The_sandbox_api_container_processes_are_mapped_to_their_container_and_compose_service()
    {
        using var environment = TestEnvironments.Sandbox();
        var container = Assert.Single(await ContainerService.ListAsync(TestEnvironments.Context(environment), "puo-memo", [NamePattern.Parse("api")]));
        var listing = await ListAsync(environment, new ProcessQuery { Services = [NamePattern.Parse("ap?")], Take = null, SampleInterval = TimeSpan.FromMilliseconds(100) });
        Assert.Empty(listing.Warnings);
        Assert.All(listing.Processes, p => Assert.Equal("api", p.Service));
        // Other test classes run scratch compose projects with an api service of their own at the same time.
        var sandboxApi = listing.Processes.Where(p => p.Project == "puo-memo").ToList();
        Assert.NotEmpty(sandboxApi);
        Assert.All(sandboxApi, p =>
        {
            Assert.Equal(container.Id, p.ContainerId);
            Assert.Equal("puo-memo-api-1", p.Container);
        });
        Assert.Contains(sandboxApi, p => p.Name == "sh" && p.CommandLine.Contains("api request", StringComparison.Ordinal));
    }

    [DockerFact]
    public async Task Without_docker_a_warning_says_so_and_processes_keep_their_container_id()
    {
        using var sandbox = TestEnvironments.Sandbox();
        var apiContainer = Assert.Single(await ContainerService.ListAsync(TestEnvironments.Context(sandbox), "puo-memo", [NamePattern.Parse("api")])).Id;
        using var noDocker = PuoEnvironment.Create(new EnvironmentSettings { Name = "xunit-nodocker", DockerHost = "unix:///nonexistent/docker.sock" });
        var listing = await ListAsync(noDocker, new ProcessQuery { Take = null, SampleInterval = TimeSpan.FromMilliseconds(100) });
        var warning = Assert.Single(listing.Warnings);
        Assert.StartsWith("Processes in containers are shown with their container id only: ", warning);
        Assert.Contains("/nonexistent/docker.sock", warning);
        var inApi = listing.Processes.Where(p => p.ContainerId == apiContainer).ToList();
        Assert.NotEmpty(inApi);
        Assert.All(inApi, p => Assert.Null(p.Service));

        var filtered = await Assert.ThrowsAsync<PuoException>(() => ListAsync(noDocker, new ProcessQuery { Services = [NamePattern.Parse("api")] }));
        Assert.Equal(ErrorKind.Connection, filtered.Kind);
    }

    [Fact]
    public void Cmdlet_view_fits_80_columns_and_bad_input_gives_clear_errors()
    {
        using var host = new ModuleHost();
        var view = host.Invoke("Get-PuoProcess -Top 5 -SampleInterval 200ms | Out-String -Width 80").ThrowIfFailed();
        var lines = view.Output.Single().ToString().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        Assert.StartsWith("    Pid Name             Resident  CPU% Service    CommandLine", lines[0]);
        Assert.Equal(7, lines.Count);
        Assert.All(lines, line => Assert.True(line.Length <= 80, $"wider than 80: {line}"));

        var both = host.Invoke("Get-PuoProcess -Top 3 -First 3");
        Assert.Equal("PuoOps.Process.TopAndFirst,PuoOps.Commands.Health.GetPuoProcessCommand", Assert.Single(both.Errors).FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, both.Errors[0].CategoryInfo.Category);

        var missing = host.Invoke("Get-PuoProcess -Name 'no-such-program', 'no-such-*' -SampleInterval 100ms");
        var notFound = Assert.Single(missing.Errors);
        Assert.Equal("PuoOps.Process.NotFound,PuoOps.Commands.Health.GetPuoProcessCommand", notFound.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, notFound.CategoryInfo.Category);
        Assert.Equal("no-such-program", notFound.TargetObject);
        Assert.Empty(missing.Output);

        var paged = host.Invoke("Get-PuoProcess -Skip 1 -First 2 -IncludeTotalCount -SampleInterval 100ms").ThrowIfFailed();
        Assert.Equal(3, paged.Output.Count);
        Assert.All(paged.Output.Take(2), o => Assert.Equal("PuoOps.ProcessInfo", o.TypeNames[0]));
        Assert.IsType<ulong>(paged.Output[2].BaseObject);
        Assert.True((ulong)paged.Output[2].BaseObject > 2);
    }

    [Fact]
    public void No_secret_of_a_command_line_shows_in_the_view_the_properties_the_json_or_verbose()
    {
        string[] secrets = ["hunter2", "tok3n", "s3cr3t", "pgpw", "cspw"];
        var process = Start("sh", "-c", "sleep 60; :", "puo-mask-test", "--password", secrets[0], "--token=" + secrets[1],
            $"postgres://puo:{secrets[2]}@127.0.0.1:5432/db", "PGPASSWORD=" + secrets[3], $"Host=h;Password={secrets[4]};Database=d");
        using var host = new ModuleHost();
        var result = host.Invoke("""
            $p = Get-PuoProcess -Name sh -All -SampleInterval 100ms -Verbose | Where-Object Pid -eq $target
            $p | Out-String -Width 400
            $p | Format-List * | Out-String -Width 400
            "$p"
            $p | ConvertTo-Json
            """, new Dictionary<string, object?> { ["target"] = process.Id }).ThrowIfFailed();
        Assert.Equal(4, result.Output.Count);
        Assert.Contains("puo-mask-test --password *** --token=***", result.Output[0].ToString());
        Assert.Contains($"\"Pid\": {process.Id}", result.Output[3].ToString());
        Assert.All(secrets, secret => Assert.DoesNotContain(secret, result.AllText));
    }

    [Fact]
    public void A_bad_sample_interval_is_refused_and_ctrl_c_stops_a_long_sample()
    {
        using var host = new ModuleHost();
        var zero = host.Invoke("Get-PuoProcess -SampleInterval 0s");
        var error = Assert.Single(zero.Errors);
        Assert.Equal("PuoOps.Process.SampleInterval", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Empty(zero.Output);

        host.AssertCtrlCStops("Get-PuoProcess -SampleInterval 60s");
    }

    [Fact]
    public void Piped_to_stop_process_it_stops_exactly_the_listed_process_not_every_one_of_that_name()
    {
        // Two processes of a program name no one else has: Stop-Process would stop both if it bound Name.
        var folder = Directory.CreateTempSubdirectory("puo-proc-");
        try
        {
            var program = Path.Combine(folder.FullName, "puo" + Guid.NewGuid().ToString("N")[..8]);
            File.Copy("/bin/sleep", program);
            File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            var target = Start(program, "60");
            var bystander = Start(program, "60");
            using var host = new ModuleHost();
            host.Invoke("Get-PuoProcess -Name $name -All -SampleInterval 100ms | Where-Object Pid -eq $target | Stop-Process",
                new Dictionary<string, object?> { ["name"] = Path.GetFileName(program), ["target"] = target.Id }).ThrowIfFailed();
            Assert.True(target.WaitForExit(5000), "the listed process should have been stopped");
            Assert.False(bystander.HasExited, "the other process of the same name must keep running");
        }
        finally
        {
            Dispose();
            _started.Clear();
            folder.Delete(recursive: true);
        }
    }
}
