using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using PuoOps.Engine.Http;

namespace PuoOps.Engine.Health;

/// <summary>
/// Measure-PuoLatency: sends GETs to one URL through the environment's HTTP client and reports latency percentiles
/// from an HdrHistogram. Closed loop (-Concurrency N): N senders, each sending its next request when the previous one
/// ended. Open loop (-Rate R): requests go out on a fixed schedule whatever the server does, and each latency counts
/// from the moment the schedule meant the request to go out, so a server that stalls shows the whole wait of every
/// request the stall held up (no coordinated omission). Every run is bounded: at most <see cref="MaxCount"/> requests
/// and <see cref="MaxDuration"/> of sending, each request at most the context's timeout.
/// </summary>
public static class LatencyService
{
    public const long MaxCount = 10_000_000;
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    /// <summary>The most requests an open-loop run keeps in flight; later ones wait, and their wait counts as latency.</summary>
    public const int MaxInFlight = 1000;

    /// <summary>Runs the measurement <paramref name="options"/> describe; InvalidArgument when it would not be bounded.</summary>
    public static async Task<LatencyReport> MeasureAsync(OperationContext ctx, LatencyOptions options)
    {
        var plan = Plan(options);
        var connections = await HttpConnections.ForAsync(ctx).ConfigureAwait(false);
        var run = new Run(ctx, connections, options.Url, plan);
        ctx.Log($"Measuring {HttpUrl.Display(options.Url)}: {plan.Mode}, at most {plan.Count} requests in {HealthCheckService.Milliseconds(plan.Duration)}.");
        using var progress = new Timer(_ => run.ReportProgress(), null, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(500));
        if (options.Rate is { } rate)
            await run.OpenLoopAsync(rate).ConfigureAwait(false);
        else
            await run.ClosedLoopAsync(options.Concurrency).ConfigureAwait(false);
        await progress.DisposeAsync().ConfigureAwait(false);
        ctx.Report(new ProgressInfo(run.Activity, "Done", 100, Completed: true));
        return run.Report(options.Sla);
    }

    private sealed record RunPlan(long Count, TimeSpan Duration, string Mode);

    private static RunPlan Plan(LatencyOptions options)
    {
        if (options.Count is <= 0 or > MaxCount)
            throw Invalid("Count", $"-Count must be from 1 to {MaxCount}.");
        if (options.Duration is { } d && (d <= TimeSpan.Zero || d > MaxDuration))
            throw Invalid("Duration", $"-DurationSec must be from 1 to {MaxDuration.TotalSeconds:0}.");
        if (options.Sla <= TimeSpan.Zero)
            throw Invalid("Sla", "-Sla must be above zero.");
        if (options.Rate is { } rate)
        {
            if (!(rate is > 0 and <= 100_000))
                throw Invalid("Rate", "-Rate must be above 0 and at most 100000 requests per second.");
            // Open loop: the schedule is the plan, bounded by -Count and -DurationSec, whichever ends it first.
            var count = options.Count ?? (options.Duration is null ? 100 : MaxCount);
            if (options.Duration is { } duration)
                count = Math.Max(1, Math.Min(count, (long)Math.Floor(duration.TotalSeconds * rate)));
            var length = TimeSpan.FromSeconds(count / rate);
            if (length > MaxDuration)
                throw Invalid("Count", $"{count} requests at {rate}/s would take {length:g}, over the limit of {MaxDuration.TotalHours:0} h. Lower -Count or raise -Rate.");
            return new RunPlan(count, length, $"open loop, {rate:0.###}/s");
        }
        if (options.Concurrency is < 1 or > 1000)
            throw Invalid("Concurrency", "-Concurrency must be from 1 to 1000.");
        return new RunPlan(options.Count ?? (options.Duration is null ? 100 : MaxCount), options.Duration ?? MaxDuration,
            $"closed loop, concurrency {options.Concurrency}");
    }

    private static PuoException Invalid(string parameter, string message) =>
        new(ErrorKind.InvalidArgument, "PuoOps.Latency." + parameter, message, parameter);

    /// <summary>One measurement in progress: the histogram, the error tally and the clock.</summary>
    private sealed class Run(OperationContext ctx, HttpConnections connections, Uri url, RunPlan plan)
    {
        private readonly LatencyHistogram _latencies = new();
        private readonly ConcurrentDictionary<string, long> _errors = new(StringComparer.Ordinal);
        private readonly long _start = Stopwatch.GetTimestamp();
        private long _lastEnd;
        private long _errorCount;

        public string Activity => $"Measuring latency of {HttpUrl.Display(url)}";

        public async Task ClosedLoopAsync(int concurrency)
        {
            var issued = 0L;
            var stopAt = _start + (long)(plan.Duration.TotalSeconds * Stopwatch.Frequency);
            var senders = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
            {
                var scratch = ArrayPool<byte>.Shared.Rent(16384);
                try
                {
                    while (Interlocked.Increment(ref issued) <= plan.Count && Stopwatch.GetTimestamp() < stopAt)
                        await SendAsync(Stopwatch.GetTimestamp(), scratch).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                }
            }, ctx.Cancellation));
            await Task.WhenAll(senders).ConfigureAwait(false);
        }

        public Task OpenLoopAsync(double rate) =>
            // The schedule runs on a thread of its own: thread-pool timers tick in milliseconds of a coarse clock and
            // can fire early or late by several, where Thread.Sleep plus a short spin hits the due time closely.
            Task.Factory.StartNew(() => Schedule(rate), ctx.Cancellation, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        private void Schedule(double rate)
        {
            var slots = new SemaphoreSlim(MaxInFlight); // not disposed: a request cut off by Ctrl+C may still release its slot
            for (long i = 0; i < plan.Count; i++)
            {
                var intended = _start + (long)(i / rate * Stopwatch.Frequency);
                WaitUntil(intended);
                slots.Wait(ctx.Cancellation);
                _ = SendAndReleaseAsync(intended, slots); // started here, not queued: a queue would add its own wait
            }
            // Every request in flight holds a slot: taking them all back waits for the last answer (or its timeout).
            for (var i = 0; i < MaxInFlight; i++)
                slots.Wait(ctx.Cancellation);
        }

        private async Task SendAndReleaseAsync(long intended, SemaphoreSlim slots)
        {
            var scratch = ArrayPool<byte>.Shared.Rent(16384);
            try
            {
                await SendAsync(intended, scratch).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
                slots.Release();
            }
        }

        /// <summary>Sleeps to within a millisecond of <paramref name="due"/> (in slices, so Ctrl+C is seen), then spins the rest.</summary>
        private void WaitUntil(long due)
        {
            while (true)
            {
                ctx.Cancellation.ThrowIfCancellationRequested();
                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (left <= TimeSpan.Zero)
                    return;
                if (left > TimeSpan.FromMilliseconds(1.5))
                    Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(100, left.TotalMilliseconds - 1)));
                else
                    Thread.SpinWait(50);
            }
        }

        /// <summary>One request; its latency runs from <paramref name="startedAt"/> (the intended send time in an open loop) to its end.</summary>
        private async Task SendAsync(long startedAt, byte[] scratch)
        {
            string? error;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation))
            {
                timeout.CancelAfter(ctx.Timeout);
                try
                {
                    var status = await connections.ProbeAsync(url, scratch, timeout.Token).ConfigureAwait(false);
                    error = status is >= 200 and <= 299 ? null : $"HTTP {status}";
                }
                catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
                {
                    error = timeout.IsCancellationRequested ? "timeout" : ErrorKindOf(ex);
                }
            }
            var end = Stopwatch.GetTimestamp();
            _latencies.Record(Stopwatch.GetElapsedTime(startedAt, end));
            InterlockedMax(ref _lastEnd, end);
            if (error is not null)
            {
                Interlocked.Increment(ref _errorCount);
                _errors.AddOrUpdate(error, 1, (_, n) => n + 1);
            }
        }

        private static string ErrorKindOf(Exception ex) =>
            ex is HttpRequestException { HttpRequestError: var kind } http
                ? http.InnerException is SocketException socket ? socket.SocketErrorCode.ToString() : kind.ToString()
                : ex.GetType().Name;

        public void ReportProgress()
        {
            var done = _latencies.Count;
            ctx.Report(new ProgressInfo(Activity, $"{done} of {plan.Count} requests, {Interlocked.Read(ref _errorCount)} failed",
                (int)Math.Min(99, Math.Max(done * 100 / plan.Count, (long)(Stopwatch.GetElapsedTime(_start).TotalSeconds * 100 / plan.Duration.TotalSeconds)))));
        }

        public LatencyReport Report(TimeSpan sla)
        {
            var count = _latencies.Count;
            var errors = Interlocked.Read(ref _errorCount);
            var elapsed = count == 0 ? Stopwatch.GetElapsedTime(_start) : Stopwatch.GetElapsedTime(_start, Interlocked.Read(ref _lastEnd));
            var p99 = _latencies.Percentile(99);
            var tally = string.Join(", ", _errors.OrderByDescending(e => e.Value).Select(e => $"{e.Key} x{e.Value}"));
            var (status, detail) =
                count == 0 ? (Status.Unknown, "No request was sent.")
                : errors == count ? (Status.Critical, $"Every request failed: {tally}.")
                : p99 > sla ? (Status.Critical, $"P99 {HealthCheckService.Milliseconds(p99)} is over the SLA of {HealthCheckService.Milliseconds(sla)}."
                    + (errors > 0 ? $" {errors} failed: {tally}." : ""))
                : errors > 0 ? (Status.Warning, $"P99 {HealthCheckService.Milliseconds(p99)} is within the SLA of {HealthCheckService.Milliseconds(sla)}, but {errors} of {count} failed: {tally}.")
                : (Status.OK, $"P99 {HealthCheckService.Milliseconds(p99)} is within the SLA of {HealthCheckService.Milliseconds(sla)}.");
            return new LatencyReport
            {
                Environment = ctx.Environment.Name, Url = HttpUrl.Display(url), Mode = plan.Mode, Count = count, Errors = errors,
                Min = _latencies.Min, P50 = _latencies.Percentile(50), P90 = _latencies.Percentile(90), P95 = _latencies.Percentile(95),
                P99 = p99, P999 = _latencies.Percentile(99.9), Max = _latencies.Max, Mean = _latencies.Mean,
                RequestsPerSecond = elapsed > TimeSpan.Zero ? count / elapsed.TotalSeconds : 0, Elapsed = elapsed, Sla = sla,
                Status = status, Detail = detail, Distribution = _latencies.Distribution(),
                ErrorsByKind = _errors.ToDictionary(e => e.Key, e => e.Value),
            };
        }

        private static void InterlockedMax(ref long target, long value)
        {
            for (var seen = Interlocked.Read(ref target); value > seen; seen = Interlocked.Read(ref target))
                if (Interlocked.CompareExchange(ref target, value, seen) == seen)
                    break;
        }
    }
}

/// <summary>What to measure and how: the URL, the bounds (-Count, -DurationSec) and the load (-Concurrency or -Rate).</summary>
public sealed class LatencyOptions
{
    public required Uri Url { get; init; }
    /// <summary>At most this many requests; null: 100 in a closed loop without a duration, else what the duration allows.</summary>
    public long? Count { get; init; }
    /// <summary>Send for at most this long.</summary>
    public TimeSpan? Duration { get; init; }
    /// <summary>Closed loop: how many senders, each waiting for its answer before the next request.</summary>
    public int Concurrency { get; init; } = 1;
    /// <summary>Open loop: requests per second, on a fixed schedule. Null for a closed loop.</summary>
    public double? Rate { get; init; }
    /// <summary>The P99 above which the run is Critical (the runbook's "P99 latency > 1s").</summary>
    public TimeSpan Sla { get; init; } = TimeSpan.FromSeconds(1);
}
