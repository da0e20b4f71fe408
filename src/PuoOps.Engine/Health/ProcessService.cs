using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using PuoOps.Engine.Docker;

namespace PuoOps.Engine.Health;

/// <summary>
/// Get-PuoProcess: the runbook's "ps aux | sort -nk 6 | tail -20", read from /proc. CPU use is sampled: every process's
/// CPU time is read twice, an interval apart. Each process is mapped to its container from the container id its
/// cgroup path names (cgroup v1 and v2, Docker's cgroupfs and systemd drivers, containerd, CRI-O, Podman), and the id
/// to the container's name and compose service through the environment's Docker client, in one list call. Written by
/// hand: no served package reads /proc with cgroups, and System.Diagnostics.Process reads one file per property.
/// </summary>
public static partial class ProcessService
{
    private const string ProcRoot = "/proc";

    /// <summary>The kernel's USER_HZ, the unit of CPU times in /proc: 100 in the kernel ABI of every architecture .NET runs on.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>The kernel cuts a process's comm at 15 characters.</summary>
    private const int CommLength = 15;

    /// <summary>Lists the processes <paramref name="query"/> selects, sorted, after sampling CPU use for its interval.</summary>
    public static async Task<ProcessListing> ListAsync(OperationContext ctx, ProcessQuery query)
    {
        RequireProc();
        if (query.SampleInterval <= TimeSpan.Zero || query.SampleInterval > TimeSpan.FromMinutes(1))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Process.SampleInterval",
                $"The CPU sample interval must be above zero and at most a minute (got {query.SampleInterval}).", query.SampleInterval);
        var before = ReadStats();
        var watch = Stopwatch.StartNew();
        await Task.Delay(query.SampleInterval, ctx.Cancellation).ConfigureAwait(false);
        var after = ReadStats();
        var elapsed = watch.Elapsed.TotalSeconds;
        var memoryTotal = ReadMemory().TotalBytes;

        var candidates = after.Values
            .Select(stat => new Candidate(stat, NameOf(stat), CpuPercent(before, stat, elapsed)))
            .Where(c => query.Names is null || query.Names.Any(p => p.IsMatch(c.Name)))
            .ToList();
        var unmatched = Unmatched(query.Names, candidates.Select(c => c.Name));

        var warnings = new List<string>();
        Dictionary<string, ContainerRef>? containers = null;
        if (query.Services is not null)
        {
            // Filtering by service needs every candidate's container, and Docker to name it.
            foreach (var candidate in candidates)
                candidate.ContainerId = ContainerIdOf(candidate.Stat.Pid);
            containers = await ContainersAsync(ctx, candidates, warnings, required: true).ConfigureAwait(false);
            candidates = candidates.Where(c => c.ContainerId is not null && containers.TryGetValue(c.ContainerId, out var container)
                && query.Services.Any(p => p.IsMatch(container.Service))).ToList();
            unmatched.AddRange(Unmatched(query.Services, candidates.Select(c => containers[c.ContainerId!].Service)));
        }

        var sorted = query.SortBy == ProcessSort.Cpu
            ? candidates.OrderByDescending(c => c.CpuPercent).ThenByDescending(c => c.Stat.ResidentBytes)
            : candidates.OrderByDescending(c => c.Stat.ResidentBytes).ThenByDescending(c => c.CpuPercent);
        // A process that ends before its details are read is left out, and the next one takes its place: -Top 20 gives 20.
        var users = new UserNames();
        var page = sorted.ThenBy(c => c.Stat.Pid).Skip((int)Math.Min(query.Skip, int.MaxValue))
            .Where(c => c.ReadDetails(users))
            .Take(query.Take is { } take ? (int)Math.Min(take, int.MaxValue) : int.MaxValue).ToList();

        if (containers is null)
        {
            foreach (var candidate in page)
                candidate.ContainerId = ContainerIdOf(candidate.Stat.Pid);
            containers = await ContainersAsync(ctx, page, warnings, required: false).ConfigureAwait(false);
        }
        var processes = page.Select(c => ToProcess(ctx, c, containers, memoryTotal)).ToList();
        return new ProcessListing { Processes = processes, TotalCount = candidates.Count, Unmatched = unmatched, Warnings = warnings };
    }

    /// <summary>The machine's memory from /proc/meminfo: total and available (what can be had without swapping).</summary>
    public static (long TotalBytes, long AvailableBytes) ReadMemory()
    {
        long total = 0, available = 0;
        foreach (var line in File.ReadLines(Path.Combine(ProcRoot, "meminfo")))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                total = Kibibytes(line);
            else if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                available = Kibibytes(line);
        }
        return (total, available);
    }

    /// <summary>
    /// The container id a /proc/PID/cgroup text names, or null: the last 64-hex-digit path segment, bare (cgroupfs:
    /// /docker/ID, /kubepods/.../ID) or with a runtime prefix and .scope suffix (systemd: docker-ID.scope,
    /// cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope). The innermost wins for nested containers.
    /// </summary>
    internal static string? ParseContainerId(string cgroup)
    {
        string? id = null;
        foreach (Match match in CgroupContainerId().Matches(cgroup))
            id = match.Groups["id"].Value;
        return id;
    }

    [GeneratedRegex(@"/(?:[a-z][a-z-]*-)?(?<id>[0-9a-f]{64})(?:\.scope)?(?=/|$)", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex CgroupContainerId();

    /// <summary>The fields of /proc/PID/stat that a listing needs.</summary>
    internal sealed record Stat(int Pid, string Comm, string State, int ParentPid, long CpuTicks, long Threads, long StartTicks,
        long VirtualBytes, long ResidentBytes);

    /// <summary>
    /// Parses /proc/PID/stat. The comm is between the first '(' and the LAST ')' since it may itself hold ')' and spaces;
    /// the numbered fields follow (proc(5): 3 state, 4 ppid, 14 utime, 15 stime, 20 num_threads, 22 starttime, 23 vsize, 24 rss).
    /// </summary>
    internal static Stat? ParseStat(string text)
    {
        var open = text.IndexOf('(');
        var close = text.LastIndexOf(')');
        if (open <= 0 || close < open || !int.TryParse(text.AsSpan(0, open).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            return null;
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 22)
            return null;
        long Field(int number) => long.Parse(fields[number - 3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return new Stat(pid, text[(open + 1)..close], fields[0], (int)Field(4), Field(14) + Field(15), Field(20), Field(22),
            Field(23), Field(24) * System.Environment.SystemPageSize);
    }

    private sealed class Candidate(Stat stat, string name, double cpuPercent)
    {
        public Stat Stat { get; } = stat;
        public string Name { get; } = name;
        public double CpuPercent { get; } = cpuPercent;
        public string? ContainerId { get; set; }
        public IReadOnlyList<string> Arguments { get; private set; } = [];
        public string User { get; private set; } = "";

        /// <summary>Reads what only listed rows need: false when the process ended meanwhile.</summary>
        public bool ReadDetails(UserNames users)
        {
            if (ReadArguments(Stat.Pid) is not { } arguments || ReadUid(Stat.Pid) is not { } uid)
                return false;
            Arguments = arguments;
            User = users.Name(uid);
            return true;
        }
    }

    /// <summary>What the Docker daemon says of a container id.</summary>
    private sealed record ContainerRef(string Name, string? Project, string? Service);

    private static void RequireProc()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(Path.Combine(ProcRoot, "stat")))
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Process.NoProc",
                "Get-PuoProcess reads Linux's /proc, which this machine does not have. Run it on the Linux host of the stack.", ProcRoot);
    }

    /// <summary>Every process's stat, by pid; a process that ends while it is read is left out.</summary>
    private static Dictionary<int, Stat> ReadStats()
    {
        var stats = new Dictionary<int, Stat>();
        foreach (var directory in Directory.EnumerateDirectories(ProcRoot))
        {
            var name = Path.GetFileName(directory.AsSpan());
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || ReadOrNull(Path.Combine(directory, "stat")) is not { } text)
                continue;
            if (ParseStat(text) is { } stat)
                stats[stat.Pid] = stat;
        }
        return stats;
    }

    private static double CpuPercent(Dictionary<int, Stat> before, Stat after, double seconds)
    {
        // A pid seen in both samples is the same process only if it started at the same time (pids are reused).
        var earlier = before.TryGetValue(after.Pid, out var b) && b.StartTicks == after.StartTicks ? b.CpuTicks : 0;
        return seconds <= 0 ? 0 : Math.Round(Math.Max(0, after.CpuTicks - earlier) / TicksPerSecond / seconds * 100, 1);
    }

    /// <summary>The comm, or the program's file name from the command line when the kernel cut the comm short.</summary>
    private static string NameOf(Stat stat)
    {
        if (stat.Comm.Length < CommLength || ReadArguments(stat.Pid) is not [var program, ..])
            return stat.Comm;
        var file = Path.GetFileName(program);
        return file.StartsWith(stat.Comm, StringComparison.Ordinal) ? file : stat.Comm;
    }

    private static List<string> Unmatched(IReadOnlyList<NamePattern>? patterns, IEnumerable<string?> names)
    {
        var literals = patterns?.Where(p => !p.HasWildcards).ToList() ?? [];
        if (literals.Count == 0)
            return [];
        var seen = names.OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);
        return literals.Where(p => !seen.Any(p.IsMatch)).Select(p => p.Literal!).ToList();
    }

    /// <summary>
    /// The containers of the candidates' ids, by id, from one Docker list call; none is asked for when no candidate runs in
    /// a container. When Docker cannot answer, a warning says so (or, when the listing filters by service, it fails).
    /// </summary>
    private static async Task<Dictionary<string, ContainerRef>> ContainersAsync(OperationContext ctx, IReadOnlyCollection<Candidate> candidates,
        List<string> warnings, bool required)
    {
        var found = new Dictionary<string, ContainerRef>(StringComparer.Ordinal);
        if (!required && candidates.All(c => c.ContainerId is null))
            return found;
        try
        {
            foreach (var listed in await ContainerService.ListRawAsync(ctx, null, null).ConfigureAwait(false))
            {
                var labels = listed.Labels;
                found[listed.ID] = new ContainerRef(listed.Names?.FirstOrDefault()?.TrimStart('/') ?? listed.ID[..12],
                    labels is not null && labels.TryGetValue(ContainerService.ProjectLabel, out var project) ? project : null,
                    ContainerService.ServiceOf(labels));
            }
        }
        catch (PuoException ex) when (!required && !ctx.Cancellation.IsCancellationRequested)
        {
            warnings.Add($"Processes in containers are shown with their container id only: {ex.Message}");
            return found;
        }
        var unknown = candidates.Count(c => c.ContainerId is not null && !found.ContainsKey(c.ContainerId));
        if (unknown > 0)
            ctx.Log($"{unknown} process(es) run in containers that Docker at {ctx.Environment.DockerHost} does not know (another daemon or runtime).");
        return found;
    }

    private static ProcessInfo ToProcess(OperationContext ctx, Candidate c, Dictionary<string, ContainerRef> containers, long memoryTotal)
    {
        var stat = c.Stat;
        var arguments = c.Arguments;
        var container = c.ContainerId is not null ? containers.GetValueOrDefault(c.ContainerId) : null;
        return new ProcessInfo
        {
            Environment = ctx.Environment.Name, Pid = stat.Pid, ParentPid = stat.ParentPid, Name = c.Name, User = c.User,
            State = stat.State, Threads = stat.Threads, ResidentBytes = stat.ResidentBytes, VirtualBytes = stat.VirtualBytes,
            MemoryPercent = memoryTotal > 0 ? Math.Round(100.0 * stat.ResidentBytes / memoryTotal, 1) : 0,
            CpuPercent = c.CpuPercent, CpuTime = TimeSpan.FromSeconds(stat.CpuTicks / TicksPerSecond),
            StartTime = BootTime.Value.AddSeconds(stat.StartTicks / TicksPerSecond).ToLocalTime(),
            // No arguments: a kernel thread or a zombie, which ps shows as [name].
            CommandLine = arguments.Count == 0 ? $"[{stat.Comm}]" : SecretMask.CommandLine(arguments),
            ContainerId = c.ContainerId, Container = container?.Name, Project = container?.Project, Service = container?.Service,
        };
    }

    private static string? ContainerIdOf(int pid) =>
        ReadOrNull(Path.Combine(ProcRoot, pid.ToString(CultureInfo.InvariantCulture), "cgroup")) is { } text ? ParseContainerId(text) : null;

    /// <summary>/proc/PID/cmdline split at its NULs; null when the process is gone.</summary>
    private static List<string>? ReadArguments(int pid)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(Path.Combine(ProcRoot, pid.ToString(CultureInfo.InvariantCulture), "cmdline"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var arguments = Encoding.UTF8.GetString(raw).Split('\0').ToList();
        // The list ends with a NUL; a process that rewrote its title (postgres: ...) may have left several.
        while (arguments.Count > 0 && arguments[^1].Length == 0)
            arguments.RemoveAt(arguments.Count - 1);
        return arguments;
    }

    /// <summary>The real uid from /proc/PID/status ("Uid: real effective saved fs").</summary>
    private static uint? ReadUid(int pid)
    {
        if (ReadOrNull(Path.Combine(ProcRoot, pid.ToString(CultureInfo.InvariantCulture), "status")) is not { } status)
            return null;
        foreach (var line in status.Split('\n'))
            if (line.StartsWith("Uid:", StringComparison.Ordinal)
                && uint.TryParse(line[4..].Split('\t', StringSplitOptions.RemoveEmptyEntries)[0], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
                return uid;
        return null;
    }

    private static string? ReadOrNull(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // the process ended between listing and reading, or hides this file
        }
    }

    private static long Kibibytes(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.None, CultureInfo.InvariantCulture) * 1024;

    /// <summary>When the machine booted (btime in /proc/stat); process start times count from it.</summary>
    private static readonly Lazy<DateTimeOffset> BootTime = new(() =>
    {
        var line = File.ReadLines(Path.Combine(ProcRoot, "stat")).First(l => l.StartsWith("btime ", StringComparison.Ordinal));
        return DateTimeOffset.FromUnixTimeSeconds(long.Parse(line[6..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture));
    });

    /// <summary>User names by uid from /etc/passwd (read once per listing); the number when a uid has no entry.</summary>
    private sealed class UserNames
    {
        private Dictionary<uint, string>? _names;

        public string Name(uint uid)
        {
            _names ??= Load();
            return _names.TryGetValue(uid, out var name) ? name : uid.ToString(CultureInfo.InvariantCulture);
        }

        private static Dictionary<uint, string> Load()
        {
            var names = new Dictionary<uint, string>();
            try
            {
                foreach (var fields in File.ReadLines("/etc/passwd").Select(l => l.Split(':')).Where(f => f.Length > 2))
                    if (uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid))
                        names.TryAdd(uid, fields[0]);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // No readable /etc/passwd (a minimal container): numeric ids it is.
            }
            return names;
        }
    }
}
