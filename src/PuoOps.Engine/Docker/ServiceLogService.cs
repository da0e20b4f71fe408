using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>
/// What Get-PuoServiceLog asks for, as docker logs' flags. Timestamps are opt-in as in docker logs -t: the daemon
/// formats one per line, which costs it about a fifth more time on a long tail.
/// </summary>
public sealed record LogOptions(int? Tail, DateTimeOffset? Since, DateTimeOffset? Until, bool Timestamps, bool Follow);

/// <summary>
/// Get-PuoServiceLog: the log lines of containers, a compose service or a Swarm service, one object per
/// line with time, container, stream and message, written as they are read (memory stays flat). Several
/// containers are read concurrently and merged, as docker compose logs does.
/// </summary>
public static class ServiceLogService
{
    private const int MergeCapacity = 4096;
    private const string SwarmTaskAttribute = "com.docker.swarm.task.id=";

    /// <summary>The lines of the containers named (names or ids), e.g. as <see cref="ContainerService.SelectAsync"/> found them.</summary>
    public static IAsyncEnumerable<ServiceLogLine> ReadContainersAsync(OperationContext ctx, IReadOnlyList<string> containers, LogOptions options) =>
        Merge(ctx, containers.Select(c => (Func<CancellationToken, IAsyncEnumerable<ServiceLogLine>>)(token => ReadContainerAsync(ctx, c, options, token))).ToList());

    /// <summary>The lines of every container of the compose services and of the Swarm services' tasks, merged.</summary>
    public static IAsyncEnumerable<ServiceLogLine> ReadServicesAsync(OperationContext ctx, IReadOnlyList<ServiceTarget> targets, LogOptions options) =>
        Merge(ctx, targets.SelectMany(target => target.Kind == ServiceTarget.Compose
            ? target.Containers.Select(c => (Func<CancellationToken, IAsyncEnumerable<ServiceLogLine>>)(token => ReadContainerAsync(ctx, c.ID, options, token)))
            : [token => ReadSwarmAsync(ctx, target, options, token)]).ToList());

    private static async IAsyncEnumerable<ServiceLogLine> ReadContainerAsync(OperationContext ctx, string container, LogOptions options,
        [EnumeratorCancellation] CancellationToken cancellation)
    {
        var inspected = await ContainerService.InspectAsync(ctx, container).ConfigureAwait(false);
        var name = inspected.Name.TrimStart('/');
        var parameters = new ContainerLogsParameters
        {
            ShowStdout = true, ShowStderr = true, Timestamps = options.Timestamps, Follow = options.Follow,
            Tail = options.Tail?.ToString(CultureInfo.InvariantCulture) ?? "all", Since = UnixTime(options.Since), Until = UnixTime(options.Until),
        };
        var stream = await DockerConnections.CallAsync(ctx, "Opening the container's log", name,
            (client, token) => client.Containers.GetContainerLogsAsync(inspected.ID, parameters, token)).ConfigureAwait(false);
        await foreach (var (streamType, line) in ReadLinesAsync(ctx, stream, name, cancellation).ConfigureAwait(false))
        {
            var (time, message) = options.Timestamps ? LogStreamDecoder.SplitTimestamp(line) : (null, line);
            yield return ToLine(ctx, time, name, streamType, message);
        }
    }

    private static async IAsyncEnumerable<ServiceLogLine> ReadSwarmAsync(OperationContext ctx, ServiceTarget target, LogOptions options,
        [EnumeratorCancellation] CancellationToken cancellation)
    {
        var service = target.SwarmService!;
        var taskNames = await TaskNamesAsync(ctx, target).ConfigureAwait(false);
        // The service log API has no "until": with -Until, lines carry their time and later ones are left out here.
        var timestamps = options.Timestamps || options.Until is not null;
        var parameters = new ServiceLogsParameters
        {
            ShowStdout = true, ShowStderr = true, Timestamps = timestamps, Details = true, Follow = options.Follow,
            Tail = options.Tail?.ToString(CultureInfo.InvariantCulture) ?? "all", Since = UnixTime(options.Since),
        };
        var stream = await DockerConnections.CallAsync(ctx, "Opening the Swarm service's log", service.Name,
            (client, token) => client.Swarm.GetServiceLogsAsync(service.ID, service.Tty, parameters, token)).ConfigureAwait(false);
        await foreach (var (streamType, line) in ReadLinesAsync(ctx, stream, service.Name, cancellation).ConfigureAwait(false))
        {
            // With details the daemon writes "[<time> ]<attr=value,...> <message>": the task id names the replica.
            var (time, rest) = timestamps ? LogStreamDecoder.SplitTimestamp(line) : (null, line);
            if (time >= options.Until)
                continue;
            var space = rest.IndexOf(' ');
            var attributes = space < 0 ? rest : rest[..space];
            var message = space < 0 ? "" : rest[(space + 1)..];
            var taskId = attributes.Split(',').FirstOrDefault(a => a.StartsWith(SwarmTaskAttribute, StringComparison.Ordinal))?[SwarmTaskAttribute.Length..];
            if (taskId is not null && !taskNames.ContainsKey(taskId))
                taskNames = await TaskNamesAsync(ctx, target).ConfigureAwait(false); // a task started since the last look
            var container = taskId is not null && taskNames.TryGetValue(taskId, out var taskName) ? taskName : service.Name;
            yield return ToLine(ctx, options.Timestamps ? time : null, container, streamType, message);
        }
    }

    private static ServiceLogLine ToLine(OperationContext ctx, DateTimeOffset? time, string container, int stream, string message) => new()
    {
        Environment = ctx.Environment.Name,
        Time = time,
        Container = container,
        Stream = stream == LogStreamDecoder.Stderr ? "stderr" : "stdout",
        Message = message,
    };

    /// <summary>Decoded lines of one log stream; disposing the stream on cancellation unblocks a follow read at once.</summary>
    private static async IAsyncEnumerable<(int Stream, string Line)> ReadLinesAsync(OperationContext ctx, MultiplexedStream stream, string target,
        [EnumeratorCancellation] CancellationToken cancellation)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, ctx.Cancellation);
        using var _ = stream;
        await using var registration = linked.Token.Register(stream.Dispose).ConfigureAwait(false);
        var decoder = new LogStreamDecoder(stream);
        var lines = new List<(int Stream, string Line)>(1024);
        while (true)
        {
            bool more;
            try
            {
                more = await decoder.ReadLinesAsync(lines, linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (linked.IsCancellationRequested)
            {
                throw new OperationCanceledException("Reading the log was cancelled.", ex, linked.Token);
            }
            catch (Exception ex) when (ex is not PuoException)
            {
                throw ErrorTranslator.TranslateDocker(ex, ctx.Environment.DockerHost, target);
            }
            foreach (var line in lines)
                yield return line;
            lines.Clear();
            if (!more)
                yield break;
        }
    }

    private static async Task<Dictionary<string, string>> TaskNamesAsync(OperationContext ctx, ServiceTarget target)
    {
        var tasks = await ServiceTarget.ListTasksAsync(ctx, target.SwarmService!).ConfigureAwait(false);
        var name = target.SwarmService!.Name;
        return tasks.ToDictionary(t => t.ID, t => t.Slot > 0 ? $"{name}.{t.Slot}" : $"{name}.{t.NodeID}");
    }

    private static string? UnixTime(DateTimeOffset? since) =>
        since is { } s ? (s.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", CultureInfo.InvariantCulture) : null;

    /// <summary>
    /// Every source is read by a task of its own into one bounded channel, ahead of the consumer: the daemon sends and this
    /// client decodes the next lines while PowerShell writes the last ones (read in turn, a long tail costs the daemon's time
    /// plus the pipeline's), and several sources are merged as their lines come.
    /// </summary>
    private static async IAsyncEnumerable<ServiceLogLine> Merge(OperationContext ctx, IReadOnlyList<Func<CancellationToken, IAsyncEnumerable<ServiceLogLine>>> sources,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation, ctx.Cancellation);
        var token = stop.Token;
        var channel = Channel.CreateBounded<ServiceLogLine>(new BoundedChannelOptions(MergeCapacity) { SingleReader = true });
        var producers = sources.Select(source => Task.Run(async () =>
        {
            try
            {
                await foreach (var line in source(token).ConfigureAwait(false))
                    await channel.Writer.WriteAsync(line, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                // One source's error ends the read at once: with -Follow the other sources never end to let it through.
                channel.Writer.TryComplete(ex);
            }
        }, token)).ToList();
        _ = Task.WhenAll(producers).ContinueWith(_ => channel.Writer.TryComplete(), TaskScheduler.Default);
        try
        {
            await foreach (var line in channel.Reader.ReadAllAsync(token).ConfigureAwait(false))
                yield return line;
        }
        finally
        {
            // The consumer stopped (the end, an error, Select-Object -First, Ctrl+C): end the readers and wait for them, so
            // no Docker stream stays open after the call and none uses the token source after it is gone.
            stop.Cancel();
            try
            {
                await Task.WhenAll(producers).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // what stop.Cancel() asked for
            }
        }
    }
}
