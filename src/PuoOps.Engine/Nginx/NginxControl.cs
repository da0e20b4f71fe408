using System.Text;

namespace PuoOps.Engine.Nginx;

/// <summary>What <see cref="NginxControl.ReplaceIncludeAsync"/> did to an include file and to nginx.</summary>
public sealed class NginxIncludeChange
{
    public string IncludePath { get; init; } = "";

    /// <summary>False when the edit left the file as it was: nothing was written or reloaded.</summary>
    public bool Changed { get; init; }

    /// <summary>The copy of the replaced file; null when there was none.</summary>
    public string? BackupPath { get; init; }

    /// <summary>False when no nginx master runs with this configuration: the file takes effect when it starts.</summary>
    public bool Reloaded { get; init; }

    public int? MasterPid { get; init; }
    public IReadOnlyList<int> PreviousWorkers { get; init; } = [];
    public IReadOnlyList<int> Workers { get; init; } = [];

    /// <summary>The configuration as nginx validated it, with the new file.</summary>
    public NginxConfigDump? Configuration { get; init; }
}

/// <summary>
/// Changes a file that a running nginx includes (a block list, a traffic switch) so that nginx never runs a
/// half-written or invalid configuration and a failure leaves everything as it was: under a lock beside nginx.conf,
/// the edit reads the current file; a backup is kept; the new text replaces it atomically (<see cref="AtomicFile"/>);
/// <c>nginx -T</c> validates the whole configuration as the running master reads it and proves the file is included;
/// SIGHUP reloads gracefully; the reload counts only once new workers replaced the old ones with no new
/// <c>[emerg]</c> in the error log; then the caller's own check runs. On any failure, Ctrl+C included, the previous
/// file is put back and, if nginx was signalled, reloaded again. Reloads are never closer than
/// <see cref="MinimumReloadInterval"/>, so a loop of small changes cannot keep nginx reloading.
/// </summary>
public static class NginxControl
{
    /// <summary>The shortest time between two reloads (counted from the newest worker's start).</summary>
    public static readonly TimeSpan MinimumReloadInterval = TimeSpan.FromSeconds(1);

    private const int BackupsKept = 10;
    private const UnixFileMode ConfigFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private static readonly TimeSpan RollbackBudget = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Replaces <paramref name="includePath"/> with what <paramref name="edit"/> makes of its current text (null when the
    /// file does not exist yet); an edit that returns null or the same text changes nothing. <paramref name="afterReload"/>
    /// runs once nginx took the new file; if it throws, the change is rolled back as well. A reload waits until
    /// <paramref name="minimumReloadInterval"/> (default <see cref="MinimumReloadInterval"/>) passed since the last one.
    /// </summary>
    public static async Task<NginxIncludeChange> ReplaceIncludeAsync(OperationContext ctx, NginxInstance nginx, string includePath,
        Func<string?, string?> edit, Func<NginxConfigDump, CancellationToken, Task>? afterReload = null, TimeSpan? minimumReloadInterval = null)
    {
        var interval = minimumReloadInterval ?? MinimumReloadInterval;
        var path = Path.GetFullPath(includePath);
        await using var _ = await LockAsync(ctx, nginx).ConfigureAwait(false);
        var previous = File.Exists(path) ? await File.ReadAllBytesAsync(path, ctx.Cancellation).ConfigureAwait(false) : null;
        var next = edit(previous is null ? null : Encoding.UTF8.GetString(previous));
        if (next is null || (previous is not null && next == Encoding.UTF8.GetString(previous)))
            return new NginxIncludeChange { IncludePath = path };

        var master = NginxMaster.Find(nginx);
        if (master is not null)
            await WaitForReloadIntervalAsync(ctx, master, interval).ConfigureAwait(false);
        var backup = AtomicFile.Backup(path, DateTimeOffset.Now);
        PruneBackups(path);
        AtomicFile.Write(path, Encoding.UTF8.GetBytes(next), ConfigFileMode);
        ctx.Log($"Wrote {path}{(backup is null ? "" : $" (the previous one is kept as {backup})")}.");
        var signalled = false;
        try
        {
            var configuration = await TestAsync(ctx, nginx, master).ConfigureAwait(false);
            if (!configuration.Includes(path))
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Nginx.NotIncluded",
                    $"{nginx.ConfigPath} does not include {path}, so nginx would never read it. Add 'include {path};' where it belongs " +
                    "(for a block list: in the http or server block), or name the included file with Connect-PuoEnvironment.", path);
            IReadOnlyList<int> previousWorkers = [], workers = [];
            if (master is not null)
            {
                previousWorkers = master.Workers();
                var logs = ErrorLogs(nginx, master).ToDictionary(log => log, Length);
                master.SignalReload();
                signalled = true;
                workers = await VerifyReloadAsync(ctx, master, previousWorkers, logs).ConfigureAwait(false);
                ctx.Log($"nginx (master {master.Pid}) reloaded: workers {string.Join(",", previousWorkers)} replaced by {string.Join(",", workers)}.");
            }
            else
                ctx.Log($"No nginx master runs with {nginx.ConfigPath}; the new {Path.GetFileName(path)} takes effect when nginx starts.");
            if (afterReload is not null)
                await afterReload(configuration, ctx.Cancellation).ConfigureAwait(false);
            return new NginxIncludeChange
            {
                IncludePath = path, Changed = true, BackupPath = backup, Reloaded = master is not null, MasterPid = master?.Pid,
                PreviousWorkers = previousWorkers, Workers = workers, Configuration = configuration,
            };
        }
        catch (Exception ex)
        {
            var rollback = await RollbackAsync(ctx, master, path, previous, signalled, interval).ConfigureAwait(false);
            if (ex is OperationCanceledException && ctx.Cancellation.IsCancellationRequested)
                throw;
            var failure = ErrorTranslator.Translate(ex, ctx.Environment);
            throw new PuoException(failure.Kind, failure.ErrorId, $"{failure.Message} {rollback}", failure.Target ?? path, ex);
        }
    }

    /// <summary>
    /// <c>nginx -T</c> of the configuration with the options the running master was started with (or none when it
    /// does not run): InvalidOperation quoting nginx when it refuses the configuration.
    /// </summary>
    internal static async Task<NginxConfigDump> TestAsync(OperationContext ctx, NginxInstance nginx, NginxMaster? master)
    {
        List<string> arguments = ["-T", "-q", .. master?.Options ?? [], "-c", nginx.ConfigPath];
        var result = await ChildProcess.RunAsync(ctx, nginx.Program, arguments).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Nginx.ConfigInvalid",
                $"nginx -t refused the configuration {nginx.ConfigPath}: {result.StandardError.Trim().Replace("nginx: ", "", StringComparison.Ordinal)}", nginx.ConfigPath);
        return NginxConfigDump.Parse(result.StandardOutput);
    }

    /// <summary>The configuration as the running master would read it now (no change), e.g. to list trusted proxies.</summary>
    public static Task<NginxConfigDump> ReadAsync(OperationContext ctx, NginxInstance nginx) => TestAsync(ctx, nginx, NginxMaster.Find(nginx));

    private static async Task<IReadOnlyList<int>> VerifyReloadAsync(OperationContext ctx, NginxMaster master, IReadOnlyList<int> previousWorkers,
        Dictionary<string, long> logs)
    {
        var deadline = DateTime.UtcNow + ctx.Timeout;
        while (true)
        {
            if (NewEmergency(logs) is { } emergency)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Nginx.ReloadFailed",
                    $"nginx (master {master.Pid}) did not take the new configuration: {emergency}", master.Pid);
            if (!master.IsRunning)
                throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Nginx.MasterGone",
                    $"The nginx master (pid {master.Pid}) exited during the reload. Start nginx and check its error log.", master.Pid);
            var workers = master.Workers();
            if (workers.Count > 0 && !workers.Intersect(previousWorkers).Any())
                return workers;
            if (DateTime.UtcNow > deadline)
                throw new PuoException(ErrorKind.Timeout, "PuoOps.Nginx.ReloadTimeout",
                    $"nginx (master {master.Pid}) did not replace its workers ({string.Join(",", previousWorkers)}) within {ctx.TimeoutSeconds} s of the reload signal. " +
                    "Check its error log; raise -TimeoutSec if it is just slow.", master.Pid);
            await Task.Delay(20, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Puts the previous file back (removes the new one if there was none) and reloads nginx if it was signalled.</summary>
    private static async Task<string> RollbackAsync(OperationContext ctx, NginxMaster? master, string path, byte[]? previous, bool signalled, TimeSpan interval)
    {
        // Ctrl+C must not stop the rollback itself: it gets a budget of its own.
        using var budget = new CancellationTokenSource(RollbackBudget);
        var rollback = new OperationContext(ctx.Environment, ctx.Timeout, budget.Token, null, ctx.Verbose);
        try
        {
            if (previous is null)
                File.Delete(path);
            else
                AtomicFile.Write(path, previous, ConfigFileMode);
            if (!signalled || master is null)
                return $"The previous {Path.GetFileName(path)} was put back; nginx was not reloaded.";
            await WaitForReloadIntervalAsync(rollback, master, interval).ConfigureAwait(false);
            var workers = master.Workers();
            master.SignalReload();
            // New workers are the proof here: a failed reload may still be logging [emerg] (nginx retries a busy port for 2 s).
            await VerifyReloadAsync(rollback, master, workers, []).ConfigureAwait(false);
            return $"The previous {Path.GetFileName(path)} was put back and nginx reloaded with it.";
        }
        catch (Exception ex)
        {
            return $"Putting the previous {path} back and reloading nginx also failed ({ex.Message}); check the file and nginx now.";
        }
    }

    private static async Task WaitForReloadIntervalAsync(OperationContext ctx, NginxMaster master, TimeSpan interval)
    {
        if (master.SinceLastReload() is { } since && since < interval)
        {
            ctx.Log($"nginx reloaded {since.TotalMilliseconds:0} ms ago; waiting, so it never reloads more often than every {interval.TotalSeconds:0.#} s.");
            await Task.Delay(interval - since, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Holds the lock of this nginx configuration (a hidden file beside nginx.conf) so that two runs never edit,
    /// validate and reload the same nginx at once. Waits up to the context's timeout for another run.
    /// </summary>
    private static async Task<FileStream> LockAsync(OperationContext ctx, NginxInstance nginx)
    {
        var path = Path.Combine(Path.GetDirectoryName(nginx.ConfigPath)!, $".{Path.GetFileName(nginx.ConfigPath)}.puoops-lock");
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = AtomicFile.OwnerOnly;
        var deadline = DateTime.UtcNow + ctx.Timeout;
        while (true)
        {
            try
            {
                return new FileStream(path, options);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Nginx.LockDenied",
                    $"Cannot create the lock file {path}: {ex.Message} Changing nginx's configuration needs a user who may write there (root).", path, ex);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, ctx.Cancellation).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Nginx.Busy",
                    $"Another run is changing nginx ({nginx.ConfigPath}) and held its lock {path} for {ctx.TimeoutSeconds} s. Try again, or raise -TimeoutSec.", path, ex);
            }
        }
    }

    /// <summary>The files the master writes errors to: main-level error_log directives, and where it logs before reading them.</summary>
    private static IEnumerable<string> ErrorLogs(NginxInstance nginx, NginxMaster master) =>
        NginxConfigSyntax.Directives(File.ReadAllText(nginx.ConfigPath))
            .Where(d => d.Depth == 0 && d.Name == "error_log" && d.Arguments.Count > 0)
            .Select(d => d.Arguments[0])
            .Where(log => log != "stderr" && !log.StartsWith("syslog:", StringComparison.Ordinal) && !log.StartsWith("memory:", StringComparison.Ordinal))
            .Select(log => Path.GetFullPath(Path.Combine(master.Prefix, log)))
            .Append(master.StartupErrorLog)
            .OfType<string>()
            .Distinct()
            .Where(File.Exists);

    private static long Length(string path) => new FileInfo(path).Length;

    /// <summary>The first <c>[emerg]</c> line written to any of the logs since the recorded lengths.</summary>
    private static string? NewEmergency(Dictionary<string, long> logs)
    {
        foreach (var (log, start) in logs)
        {
            using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Position = stream.Length < start ? 0 : start; // rotated since: read the new file from its start
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
                if (line.Contains("[emerg]", StringComparison.Ordinal))
                    return line;
        }
        return null;
    }

    private static void PruneBackups(string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        foreach (var old in Directory.EnumerateFiles(directory, Path.GetFileName(path) + ".bak-*").Order(StringComparer.Ordinal).SkipLast(BackupsKept))
            File.Delete(old);
    }
}
