using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using PuoOps.Engine.Health;
using PuoOps.Engine.Http;
using PuoOps.Engine.Nginx;

namespace PuoOps.Engine.Deployment;

/// <summary>
/// Get-PuoTrafficState and Switch-PuoTraffic: the traffic file (an include naming the active colour's backends),
/// changed only through <see cref="NginxControl"/> (lock, backup, atomic write, nginx -T, one verified reload,
/// rollback), with the target judged before the switch, the switch proven through nginx after it, and a watch window
/// that switches back on its own when the new colour degrades.
/// </summary>
public static class TrafficService
{
    public const string DefaultFileName = "puo-traffic.conf";

    /// <summary>How many answers through nginx must all come from the target before a switch counts.</summary>
    public const int ConfirmationProbes = 10;

    /// <summary>
    /// The watch window's load through nginx, at a fixed rate so that MonitorFailed counts something: this many senders,
    /// staggered, each starting a request every <see cref="MonitorProbeInterval"/> (at once when an answer took longer),
    /// i.e. one request every 50 ms, 20 a second at most, and never more than two in flight.
    /// </summary>
    private const int MonitorConcurrency = 2;
    private static readonly TimeSpan MonitorProbeInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The watch window judges the error rate once this many requests were answered, and P99 once it has this many.</summary>
    private const long MinimumForErrorRate = 10;
    private const long MinimumForP99 = 100;

    private static readonly TimeSpan ProbePause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MonitorCheckInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MinimumRollbackWindow = TimeSpan.FromSeconds(30);

    /// <summary>The environment's traffic file: Connect-PuoEnvironment -TrafficFile, else puo-traffic.conf beside nginx.conf.</summary>
    public static async Task<string> PathAsync(OperationContext ctx) =>
        ctx.Environment.TrafficFile is { } named
            ? Path.GetFullPath(named)
            : Path.Combine(Path.GetDirectoryName(await NginxInstance.ConfigPathAsync(ctx).ConfigureAwait(false))!, DefaultFileName);

    internal sealed record Current(string Path, string? Text, TrafficFile? File, IReadOnlyList<ColorBackends> Colors, ColorBackends? Active);

    internal static async Task<Current> ReadAsync(OperationContext ctx)
    {
        var path = await PathAsync(ctx).ConfigureAwait(false);
        var text = File.Exists(path) ? await File.ReadAllTextAsync(path, ctx.Cancellation).ConfigureAwait(false) : null;
        var file = text is null ? null : TrafficFile.Parse(text, ctx.Environment.Upstream, path);
        var colors = await Colors.ResolveAsync(ctx).ConfigureAwait(false);
        var active = file is null ? null
            : colors.FirstOrDefault(c => c.Backends.ToHashSet().SetEquals(file.Servers))
              ?? colors.FirstOrDefault(c => c.Color == file.Color);
        return new Current(path, text, file, colors, active);
    }

    /// <summary>The environment's colour names (-Color, else the Swarm services labelled puo.color), for completion.</summary>
    public static async Task<IReadOnlyList<string>> ColorNamesAsync(OperationContext ctx) =>
        (await Colors.ResolveAsync(ctx).ConfigureAwait(false)).Select(c => c.Color).ToList();

    public static async Task<TrafficState> GetStateAsync(OperationContext ctx)
    {
        var current = await ReadAsync(ctx).ConfigureAwait(false);
        var nginx = await NginxInstance.ResolveAsync(ctx).ConfigureAwait(false);
        var master = NginxMaster.Find(nginx);
        var health = await Task.WhenAll(current.Colors.Select(c => ProbeAsync(ctx, c.Backends))).ConfigureAwait(false);
        return new TrafficState
        {
            Environment = ctx.Environment.Name,
            ActiveColor = current.Active?.Color,
            Upstream = ctx.Environment.Upstream,
            TrafficFile = current.Path,
            ActiveBackends = current.File?.Servers ?? [],
            Colors = current.Colors.Select((c, i) => new ColorState
            {
                Environment = ctx.Environment.Name, Color = c.Color, Active = c == current.Active, Backends = c.Backends,
                Status = health[i].Status, Detail = health[i].Detail, Source = c.Source, Services = c.Services, Image = c.Image,
            }).ToList(),
            NginxMasterPid = master?.Pid,
            NginxWorkers = master?.Workers() ?? [],
            LastSwitch = DeploymentHistory.Read(ctx, DeploymentHistory.PathFor(current.Path)).FirstOrDefault(),
        };
    }

    /// <summary>Works out the switch without changing anything: from, to, the file, the URL clients use (what -WhatIf shows).</summary>
    public static async Task<SwitchPlan> PlanAsync(OperationContext ctx, SwitchOptions options)
    {
        var current = await ReadAsync(ctx).ConfigureAwait(false);
        ColorBackends target;
        if (options.To is { } to)
            target = Colors.Find(current.Colors, to);
        else if (options.Rollback)
        {
            var last = DeploymentHistory.Read(ctx, DeploymentHistory.PathFor(current.Path)).FirstOrDefault(s => !s.RolledBack)
                       ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.NothingToRollBack",
                           $"The history beside {current.Path} has no switch to roll back. Name the colour with -To.", current.Path);
            if (last.To != current.Active?.Color)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.NothingToRollBack",
                    $"The last switch went to {last.To}, but {current.Active?.Color ?? "no known colour"} is active now, so there is no switch to undo. Name the colour with -To.", current.Path);
            target = Colors.Find(current.Colors, last.From);
        }
        else
        {
            var idle = current.Colors.Where(c => c != current.Active).ToList();
            target = idle.Count == 1 ? idle[0]
                : throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.WhichColor",
                    $"{(current.Active is null ? "No colour is active" : $"{current.Active.Color} is active")} and the idle colours are {string.Join(", ", idle.Select(c => c.Color))}: name the target with -To.", "To");
        }
        if (target == current.Active)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.AlreadyActive",
                $"{target.Color} is already active: {current.Path} sends traffic to {string.Join(", ", target.Backends)}.", target.Color);
        var nginx = await NginxInstance.ResolveAsync(ctx).ConfigureAwait(false);
        var configuration = await NginxControl.ReadAsync(ctx, nginx).ConfigureAwait(false);
        return new SwitchPlan
        {
            From = current.Active?.Color ?? "(none)", To = target.Color, FromBackends = current.Active?.Backends ?? current.File?.Servers ?? [],
            ToBackends = target.Backends, TrafficFile = current.Path, Upstream = ctx.Environment.Upstream,
            FrontUrl = NginxFront.Url(configuration, ctx.Environment.Upstream, nginx.ConfigPath),
        };
    }

    /// <summary>
    /// Runs the plan: analysis (refused before anything changes unless <see cref="SwitchOptions.Force"/>), the switch
    /// with its confirmation through nginx, and the watch window. The record comes back (and goes into the history)
    /// also when the switch was undone; an analysis refusal or a configuration nginx refuses is an error, nothing changed.
    /// </summary>
    public static async Task<TrafficSwitch> SwitchAsync(OperationContext ctx, SwitchPlan plan, SwitchOptions options)
    {
        var record = new TrafficSwitch
        {
            Environment = ctx.Environment.Name, From = plan.From, To = plan.To, Started = DateTimeOffset.Now, Forced = options.Force,
            FromBackends = plan.FromBackends, ToBackends = plan.ToBackends, TrafficFile = plan.TrafficFile,
        };
        var clock = Stopwatch.StartNew();
        await AnalyseAsync(ctx, plan, options, record).ConfigureAwait(false);
        record.AnalysisTime = clock.Elapsed;

        var nginx = await NginxInstance.ResolveAsync(ctx).ConfigureAwait(false);
        string? previousText = null;
        clock.Restart();
        NginxIncludeChange change;
        try
        {
            change = await NginxControl.ReplaceIncludeAsync(ctx, nginx, plan.TrafficFile, text =>
            {
                if (text is not null)
                    TrafficFile.Parse(text, plan.Upstream, plan.TrafficFile); // refuse to overwrite a file we do not understand
                previousText = text;
                return TrafficFile.Render(plan.Upstream, plan.To, plan.ToBackends);
            }, async (_, _) =>
            {
                record.ReloadTime = clock.Elapsed;
                clock.Restart();
                await ConfirmAsync(ctx, plan).ConfigureAwait(false);
                record.ConfirmationProbes = ConfirmationProbes;
                record.ConfirmationTime = clock.Elapsed;
            }, options.MinReloadInterval).ConfigureAwait(false);
        }
        catch (PuoException ex) when (ex.ErrorId is "PuoOps.Deployment.NotConfirmed" or "PuoOps.Nginx.ReloadFailed" or "PuoOps.Nginx.ReloadTimeout")
        {
            // nginx was signalled and the engine put the previous file back: that is a rollback the history must show.
            record.RolledBack = true;
            record.RollbackReason = ex.Message;
            record.RolledBackAt = record.Finished = DateTimeOffset.Now;
            DeploymentHistory.Append(ctx, DeploymentHistory.PathFor(plan.TrafficFile), record);
            return record;
        }
        record.BackupFile = change.BackupPath;
        record.PreviousWorkers = change.PreviousWorkers;
        record.Workers = change.Workers;
        record.KeepPreviousUntil = DateTimeOffset.Now + (options.Monitor > MinimumRollbackWindow ? options.Monitor : MinimumRollbackWindow);
        ctx.Log($"Traffic is on {plan.To} ({string.Join(", ", plan.ToBackends)}); {plan.From} stays up until at least {record.KeepPreviousUntil:T} for an instant switch back.");

        clock.Restart();
        string? trouble;
        try
        {
            trouble = await MonitorAsync(ctx, plan, options, record).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.Cancellation.IsCancellationRequested)
        {
            // Ctrl+C in the watch window: the switch stands (it was confirmed); the history says the watch was cut short.
            record.MonitorTime = clock.Elapsed;
            record.Finished = DateTimeOffset.Now;
            record.Note = "watch window stopped by Ctrl+C";
            DeploymentHistory.Append(ctx, DeploymentHistory.PathFor(plan.TrafficFile), record);
            throw;
        }
        record.MonitorTime = clock.Elapsed;
        if (trouble is not null)
        {
            ctx.Log($"Rolling back to {plan.From}: {trouble}");
            await RollBackAsync(ctx, nginx, plan, previousText, options).ConfigureAwait(false);
            record.RolledBack = true;
            record.RollbackReason = trouble;
            record.RolledBackAt = DateTimeOffset.Now;
        }
        record.Finished = DateTimeOffset.Now;
        DeploymentHistory.Append(ctx, DeploymentHistory.PathFor(plan.TrafficFile), record);
        return record;
    }

    /// <summary>Consecutive health probes of every target backend, then a short latency run against them (not through nginx).</summary>
    private static async Task AnalyseAsync(OperationContext ctx, SwitchPlan plan, SwitchOptions options, TrafficSwitch record)
    {
        ctx.Report(new ProgressInfo("Switch-PuoTraffic", $"Probing {plan.To}'s health"));
        for (var probe = 1; probe <= options.HealthyProbes; probe++)
        {
            var (status, detail) = await ProbeAsync(ctx, plan.ToBackends).ConfigureAwait(false);
            if (status is not (Status.OK or Status.Warning))
            {
                Refuse(ctx, options, $"{plan.To} failed health probe {probe} of {options.HealthyProbes}: {detail}");
                break;
            }
            record.HealthyProbes = probe;
            if (probe < options.HealthyProbes)
                await Task.Delay(ProbePause, ctx.Cancellation).ConfigureAwait(false);
        }
        if (options.AnalysisRequests <= 0)
            return;
        ctx.Report(new ProgressInfo("Switch-PuoTraffic", $"Measuring {plan.To}'s latency"));
        var share = (long)Math.Ceiling(options.AnalysisRequests / (double)plan.ToBackends.Count);
        var reports = await Task.WhenAll(plan.ToBackends.Select(backend => LatencyService.MeasureAsync(ctx, new LatencyOptions
        {
            Url = BackendUrl(backend, "health"), Count = share, Concurrency = (int)Math.Min(4, share), Sla = options.MaxP99,
        }))).ConfigureAwait(false);
        record.AnalysisRequests = reports.Sum(r => r.Count);
        record.AnalysisSuccessRate = record.AnalysisRequests == 0 ? 0 : 1 - reports.Sum(r => r.Errors) / (double)record.AnalysisRequests;
        record.AnalysisP99 = reports.Max(r => r.P99);
        if (record.AnalysisSuccessRate < options.MinSuccessRate)
            Refuse(ctx, options, $"{plan.To} answered {record.AnalysisSuccessRate:P1} of {record.AnalysisRequests} requests with 2xx, below -MinSuccessRate {options.MinSuccessRate:P1}" +
                                 $" ({string.Join("; ", reports.Where(r => r.Errors > 0).Select(r => $"{r.Url}: {r.Detail}"))})");
        else if (record.AnalysisP99 > options.MaxP99)
            Refuse(ctx, options, $"{plan.To}'s P99 latency is {record.AnalysisP99.TotalMilliseconds:0.#} ms over {record.AnalysisRequests} requests, above -MaxP99 {options.MaxP99.TotalMilliseconds:0} ms");
    }

    private static void Refuse(OperationContext ctx, SwitchOptions options, string why)
    {
        if (!options.Force)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.TargetNotReady",
                $"Refusing to switch: {why}. Nothing was changed. Fix the target (Publish-PuoDeployment, Get-PuoTrafficState), or add -Force to switch anyway.", "To");
        ctx.Log($"-Force: switching although {why}.");
    }

    /// <summary>
    /// N of N answers of /version through nginx, each on a new connection, must be among the answers the target's
    /// backends give directly, so any marker works (a colour, an image tag, a build id).
    /// </summary>
    private static async Task ConfirmAsync(OperationContext ctx, SwitchPlan plan)
    {
        ctx.Report(new ProgressInfo("Switch-PuoTraffic", $"Confirming through {plan.FrontUrl}"));
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var backend in plan.ToBackends)
            expected.Add(Body(await HttpConnections.GetAsync(ctx, BackendUrl(backend, "version"), closeConnection: true).ConfigureAwait(false)));
        var front = new Uri(plan.FrontUrl, "version");
        for (var probe = 1; probe <= ConfirmationProbes; probe++)
        {
            var answer = await HttpConnections.GetAsync(ctx, front, closeConnection: true).ConfigureAwait(false);
            var body = Body(answer);
            if (!answer.IsSuccess || !expected.Contains(body))
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.NotConfirmed",
                    $"nginx reloaded, but probe {probe} of {ConfirmationProbes} through {HttpUrl.Display(front)} answered HTTP {answer.StatusCode} '{Shorten(body)}' " +
                    $"where {plan.To} answers '{string.Join("' or '", expected.Select(Shorten))}': the new configuration is not what serves.", HttpUrl.Display(front));
        }
        ctx.Log($"{ConfirmationProbes} of {ConfirmationProbes} probes through {HttpUrl.Display(front)} answered as {plan.To} does ('{Shorten(expected.First())}').");
    }

    /// <summary>
    /// Sends requests through nginx for the watch window and checks the error rate, P99 and the target's own health;
    /// the first degradation ends the window early and is returned as the reason to roll back (null: all well).
    /// </summary>
    private static async Task<string?> MonitorAsync(OperationContext ctx, SwitchPlan plan, SwitchOptions options, TrafficSwitch record)
    {
        if (options.Monitor <= TimeSpan.Zero)
            return null;
        var connections = await HttpConnections.ForAsync(ctx).ConfigureAwait(false);
        var latencies = new LatencyHistogram();
        long requests = 0, failed = 0;
        var failures = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        var url = new Uri(plan.FrontUrl, "version");
        var senders = Enumerable.Range(0, MonitorConcurrency).Select(sender => Task.Run(async () =>
        {
            var scratch = new byte[16384];
            try
            {
                // Staggered, so the senders' requests interleave evenly; a PeriodicTimer coalesces the ticks a slow answer
                // missed, so the rate never bursts to catch up.
                await Task.Delay(MonitorProbeInterval * sender / MonitorConcurrency, stop.Token).ConfigureAwait(false);
                using var pace = new PeriodicTimer(MonitorProbeInterval);
                do
                {
                    var started = Stopwatch.GetTimestamp();
                    string? error;
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                    timeout.CancelAfter(ctx.Timeout);
                    try
                    {
                        var status = await connections.ProbeAsync(url, scratch, timeout.Token).ConfigureAwait(false);
                        error = status is >= 200 and <= 299 ? null : $"HTTP {status}";
                    }
                    catch (Exception) when (stop.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception ex)
                    {
                        error = timeout.IsCancellationRequested ? "timeout" : ex.GetBaseException().Message;
                    }
                    latencies.Record(Stopwatch.GetElapsedTime(started));
                    Interlocked.Increment(ref requests);
                    if (error is not null)
                    {
                        Interlocked.Increment(ref failed);
                        failures.AddOrUpdate(error, 1, (_, n) => n + 1);
                    }
                }
                while (await pace.WaitForNextTickAsync(stop.Token).ConfigureAwait(false));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // the watch window ended
            }
        })).ToList();

        string? trouble = null;
        var watch = Stopwatch.StartNew();
        var nextHealth = TimeSpan.Zero;
        try
        {
            while (watch.Elapsed < options.Monitor && trouble is null)
            {
                await Task.Delay(MonitorCheckInterval, ctx.Cancellation).ConfigureAwait(false);
                ctx.Report(new ProgressInfo("Switch-PuoTraffic", $"Watching {plan.To}: {Interlocked.Read(ref requests)} requests, {Interlocked.Read(ref failed)} failed",
                    (int)(100 * watch.Elapsed.TotalSeconds / options.Monitor.TotalSeconds)));
                var (total, bad) = (Interlocked.Read(ref requests), Interlocked.Read(ref failed));
                if (total >= MinimumForErrorRate && bad > total * (1 - options.MinSuccessRate))
                    trouble = $"{bad} of {total} requests through nginx failed in the watch window ({string.Join(", ", failures.Select(f => $"{f.Key}: {f.Value}"))}), above 1 - -MinSuccessRate";
                else if (latencies.Count >= MinimumForP99 && latencies.Percentile(99) > options.MaxP99)
                    trouble = $"P99 through nginx rose to {latencies.Percentile(99).TotalMilliseconds:0.#} ms over {latencies.Count} requests, above -MaxP99 {options.MaxP99.TotalMilliseconds:0} ms";
                else if (watch.Elapsed >= nextHealth)
                {
                    nextHealth = watch.Elapsed + TimeSpan.FromSeconds(1);
                    var (status, detail) = await ProbeAsync(ctx, plan.ToBackends).ConfigureAwait(false);
                    if (status is not (Status.OK or Status.Warning))
                        trouble = $"{plan.To} stopped answering its health check: {detail}";
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(senders).ConfigureAwait(false);
        }
        record.MonitorRequests = Interlocked.Read(ref requests);
        record.MonitorFailed = Interlocked.Read(ref failed);
        record.MonitorP99 = latencies.Count == 0 ? TimeSpan.Zero : latencies.Percentile(99);
        return trouble;
    }

    /// <summary>Puts the previous traffic file back through the same transaction; without Ctrl+C, with a budget of its own.</summary>
    private static async Task RollBackAsync(OperationContext ctx, NginxInstance nginx, SwitchPlan plan, string? previousText, SwitchOptions options)
    {
        using var budget = new CancellationTokenSource(ctx.Timeout + options.MinReloadInterval + TimeSpan.FromSeconds(30));
        var rollback = new OperationContext(ctx.Environment, ctx.Timeout, budget.Token, ctx.Progress, ctx.Verbose);
        var text = previousText ?? TrafficFile.Render(plan.Upstream, plan.From, plan.FromBackends);
        await NginxControl.ReplaceIncludeAsync(rollback, nginx, plan.TrafficFile, _ => text, minimumReloadInterval: options.MinReloadInterval).ConfigureAwait(false);
    }

    /// <summary>One /health check of each backend at once: the worst status and what failed.</summary>
    internal static async Task<(Status Status, string Detail)> ProbeAsync(OperationContext ctx, IReadOnlyList<string> backends)
    {
        var checks = await HealthCheckService.RunAsync(ctx, new HealthCheckOptions
        {
            Components = [], Urls = backends.Select(b => BackendUrl(b, "health")).ToList(),
        }).ConfigureAwait(false);
        var worst = checks.Select(c => c.Status).DefaultIfEmpty(Status.Unknown).Max();
        var failing = checks.Where(c => c.Status is not (Status.OK or Status.Warning)).Select(c => $"{c.Target}: {c.Detail}").ToList();
        return (worst, failing.Count == 0 ? $"{checks.Count} of {checks.Count} backends healthy" : string.Join("; ", failing));
    }

    internal static Uri BackendUrl(string backend, string path) => new($"http://{backend}/{path}");

    private static string Body(HttpAnswer answer) => Encoding.UTF8.GetString(answer.Body).Trim();

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
