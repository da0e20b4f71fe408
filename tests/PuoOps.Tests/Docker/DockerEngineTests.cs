using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using PuoOps.Engine;
using PuoOps.Engine.Docker;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Docker;

/// <summary>The Docker engine services: connection and API negotiation, log decoding, stats, errors.</summary>
public sealed class DockerEngineTests : IDisposable
{
    private readonly ScratchProject _project = new("xunit-engine");
    private readonly PuoEnvironment _environment = TestEnvironments.Sandbox();

    public void Dispose()
    {
        _environment.Dispose();
        _project.Dispose();
    }

    [Fact]
    public void Negotiation_takes_the_newest_version_both_sides_speak_and_names_both_ranges_when_there_is_none()
    {
        Assert.Equal(DockerConnections.ClientMaxApiVersion, DockerConnections.Negotiate("1.60", "1.24", "h"));
        Assert.Equal(new Version(1, 52), DockerConnections.Negotiate("1.52", "1.44", "h")); // Engine 29
        Assert.Equal(new Version(1, 41), DockerConnections.Negotiate("1.41", "1.12", "h")); // Engine 20.10
        Assert.Equal(new Version(1, 45), DockerConnections.Negotiate("1.45", null, "h"));

        var tooNew = Assert.Throws<PuoException>(() => DockerConnections.Negotiate("1.70", "1.60", "h"));
        Assert.Equal("PuoOps.Docker.ApiVersion", tooNew.ErrorId);
        Assert.Contains("1.60 to 1.70", tooNew.Message);
        Assert.Contains($"{DockerConnections.ClientMinApiVersion} to {DockerConnections.ClientMaxApiVersion}", tooNew.Message);
        Assert.Contains("update PuoOps", tooNew.Message);
        var tooOld = Assert.Throws<PuoException>(() => DockerConnections.Negotiate("1.39", "1.12", "h"));
        Assert.Contains("1.12 to 1.39", tooOld.Message);
        Assert.Contains("update the Docker Engine", tooOld.Message);
    }

    [Fact]
    public void Docker_hosts_are_parsed_and_bad_ones_rejected_before_connecting()
    {
        Assert.Equal("http://127.0.0.1:2376/", DockerConnections.ParseHost("tcp://127.0.0.1:2376").ToString());
        Assert.Equal("unix:///var/run/docker.sock", DockerConnections.ParseHost("/var/run/docker.sock").ToString());
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => DockerConnections.ParseHost("ftp://x")).Kind);
    }

    [DockerFact]
    public async Task One_negotiated_client_per_environment_disposed_with_it()
    {
        var log = new List<string>();
        var ctx = new OperationContext(_environment, TimeSpan.FromSeconds(15), default, verbose: log.Add);
        var first = await DockerConnections.ClientAsync(ctx);
        var second = await DockerConnections.ClientAsync(ctx);
        Assert.Same(first, second);
        // The daemon's own version decides: the sandbox's Debian docker.io speaks an API no newer than the client's.
        Assert.Contains(log, line => line.Contains("speaks API", StringComparison.Ordinal) && line.Contains("using 1.", StringComparison.Ordinal));
        _environment.Dispose();
        var disconnected = await Assert.ThrowsAsync<PuoException>(() => DockerConnections.ClientAsync(ctx));
        Assert.Equal("PuoOps.Environment.Disconnected", disconnected.ErrorId);
    }

    [DockerFact]
    public async Task Compose_containers_are_listed_with_service_number_and_health()
    {
        _project.Add("api", 1);
        _project.Add("api", 2);
        _project.Add("worker", 1, healthy: false);
        ScratchProject.WaitHealthy($"{_project.Name}-api-1");
        ScratchProject.WaitHealthy($"{_project.Name}-api-2");

        var all = await ContainerService.ListAsync(TestEnvironments.Context(_environment), _project.Name, null);
        Assert.Equal([$"{_project.Name}-api-1", $"{_project.Name}-api-2", $"{_project.Name}-worker-1"], all.Select(c => c.Name));
        Assert.Equal([1, 2], all.Where(c => c.Service == "api").Select(c => c.Number ?? 0));
        Assert.All(all, c => Assert.Equal("running", c.State));
        Assert.Equal("healthy", all[0].Health);
        Assert.Null(all[2].Health);

        var workers = await ContainerService.ListAsync(TestEnvironments.Context(_environment), _project.Name, [NamePattern.Parse("worker")]);
        Assert.Equal("worker", Assert.Single(workers).Service);
    }

    [DockerFact]
    public async Task Stats_are_sampled_for_all_containers_and_a_busy_one_is_flagged()
    {
        var idle = _project.Add("idle", 1, script: """trap "exit 0" TERM; while true; do sleep 1 & wait $!; done""", healthy: false);
        var busy = _project.Add("busy", 1, script: """trap "exit 0" TERM; while true; do :; done""", healthy: false);
        var thresholds = new ContainerStatsService.Thresholds(5, 10, 80, 90);

        var samples = await ContainerStatsService.SampleAsync(TestEnvironments.Context(_environment), [NamePattern.Parse(busy), NamePattern.Parse(idle), NamePattern.Parse("xunit-no-such-container")], null, null,
            TimeSpan.FromMilliseconds(500), thresholds);

        Assert.Equal(3, samples.Count);
        var busyStats = samples[0].Stats!;
        var idleStats = samples[1].Stats!;
        Assert.Equal(busy, busyStats.Name);
        Assert.True(busyStats.CpuPercent > idleStats.CpuPercent, $"busy {busyStats.CpuPercent} % vs idle {idleStats.CpuPercent} %");
        Assert.NotEqual(Status.OK, busyStats.Status);
        Assert.True(idleStats.MemoryUsage > 0 && idleStats.MemoryLimit >= idleStats.MemoryUsage);
        Assert.True(idleStats.Pids >= 1);
        // CPU % is a delta over two distinct daemon readings, never one reading: the window between them is reported.
        Assert.All(new[] { busyStats, idleStats }, s => Assert.True(s.SampleWindow > TimeSpan.Zero, $"{s.Name}: window {s.SampleWindow}"));
        Assert.Equal(ErrorKind.NotFound, samples[2].Error!.Kind);
        Assert.Contains("xunit-no-such-container", samples[2].Error!.Message);
    }

    [DockerFact]
    public async Task Logs_keep_stdout_and_stderr_apart_with_times_and_honour_tail()
    {
        var name = _project.Add("api", 1);
        await WaitForLogLinesAsync(name, 6);
        var ctx = TestEnvironments.Context(_environment);

        var lines = new List<ServiceLogLine>();
        await foreach (var line in ServiceLogService.ReadContainersAsync(ctx, [name], new LogOptions(4, null, null, true, false)))
            lines.Add(line);

        Assert.Equal(4, lines.Count); // the last 4 lines, both streams counted together as docker logs --tail does
        Assert.All(lines, l => Assert.Equal(name, l.Container));
        Assert.All(lines, l => Assert.NotNull(l.Time));
        Assert.All(lines.Where(l => l.Stream == "stderr"), l => Assert.Matches("^api err [0-9]+$", l.Message));
        Assert.All(lines.Where(l => l.Stream == "stdout"), l => Assert.Matches("^api out [0-9]+$", l.Message));
        Assert.Contains(lines, l => l.Stream == "stderr");
        Assert.Contains(lines, l => l.Stream == "stdout");
    }

    [DockerFact]
    public async Task Following_several_containers_ends_at_once_with_the_error_of_one_that_fails()
    {
        var name = _project.Add("api", 1);
        await WaitForLogLinesAsync(name, 1);
        var ctx = TestEnvironments.Context(_environment);

        // The running container's follow never ends by itself: only the failing source's error can end the read.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in ServiceLogService.ReadContainersAsync(ctx, [name, "xunit-no-such-container"], new LogOptions(1, null, null, false, true)).WithCancellation(deadline.Token))
            {
            }
        });
        Assert.False(deadline.IsCancellationRequested, $"the read ended only at the deadline: {error.GetType().Name}");
        Assert.IsNotAssignableFrom<OperationCanceledException>(error);
    }

    [Fact]
    public async Task Decoder_reassembles_frames_and_lines_split_across_reads()
    {
        // stdout "hello wor" + stderr "oops\n" + stdout "ld\nsecond\n" + stdout "tail without newline"
        var frames = Frame(1, "hello wor").Concat(Frame(2, "oops\n")).Concat(Frame(1, "ld\nsecond\n")).Concat(Frame(1, "tail without newline")).ToArray();
        var decoder = new LogStreamDecoder(new global::Docker.DotNet.MultiplexedStream(new TrickleStream(frames, 3), multiplexed: true));
        var lines = new List<(int Stream, string Line)>();
        while (await decoder.ReadLinesAsync(lines, default))
        {
        }
        Assert.Equal(
        [
            (LogStreamDecoder.Stderr, "oops"), (LogStreamDecoder.Stdout, "hello world"), (LogStreamDecoder.Stdout, "second"),
            (LogStreamDecoder.Stdout, "tail without newline"),
        ], lines);
    }

    [Fact]
    public void Docker_timestamps_with_nanoseconds_are_parsed()
    {
        var (time, message) = LogStreamDecoder.SplitTimestamp("2026-11-28T09:53:56.112532927Z hello world");
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 9, 53, 56, TimeSpan.Zero).AddTicks(1125329), time);
        Assert.Equal("hello world", message);
    }

    [DockerFact]
    public async Task A_missing_container_is_not_found_naming_it()
    {
        var error = await Assert.ThrowsAsync<PuoException>(() => ContainerService.InspectAsync(TestEnvironments.Context(_environment), "xunit-missing-container"));
        Assert.Equal(ErrorKind.NotFound, error.Kind);
        Assert.Equal("xunit-missing-container", error.Target);
        Assert.Contains("xunit-missing-container", error.Message);
    }

    [Fact]
    public async Task An_absent_socket_is_a_connection_error_naming_the_host()
    {
        using var environment = PuoEnvironment.Create(new Engine.Environments.EnvironmentSettings { Name = "xunit-nosock", DockerHost = "unix:///tmp/xunit-no-such-docker.sock" });
        var error = await Assert.ThrowsAsync<PuoException>(() => ContainerService.ListAsync(TestEnvironments.Context(environment), null, null));
        Assert.Equal(ErrorKind.Connection, error.Kind);
        Assert.Contains("unix:///tmp/xunit-no-such-docker.sock", error.Message);
    }

    [Fact]
    public void Permission_denied_on_the_socket_is_a_permission_error()
    {
        // The translation of the exception the socket raises; Docker.Tests.ps1 also connects for real as an unprivileged user.
        var denied = new HttpRequestException("connect", new SocketException((int)SocketError.AccessDenied));
        var error = ErrorTranslator.TranslateDocker(denied, "unix:///var/run/docker.sock", null);
        Assert.Equal(ErrorKind.PermissionDenied, error.Kind);
        Assert.Equal("PuoOps.Docker.PermissionDenied", error.ErrorId);
        Assert.Contains("unix:///var/run/docker.sock", error.Message);
        Assert.Contains("usermod -aG docker", error.Message);
        Assert.Equal("unix:///var/run/docker.sock", error.Target);
    }

    private static async Task WaitForLogLinesAsync(string container, int count)
    {
        for (var i = 0; i < 50; i++)
        {
            if (ScratchProject.Docker("logs", container).Split('\n').Length >= count / 2)
                return;
            await Task.Delay(200);
        }
    }

    private static IEnumerable<byte> Frame(byte stream, string text)
    {
        var payload = Encoding.UTF8.GetBytes(text);
        var header = new byte[8];
        header[0] = stream;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)payload.Length);
        return header.Concat(payload);
    }

    /// <summary>Hands out at most a few bytes per read, so every header and line boundary falls between reads.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
    }
}
