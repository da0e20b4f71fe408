using System.Globalization;
using System.Runtime.InteropServices;

namespace PuoOps.Engine.Nginx;

/// <summary>
/// The running master process of an nginx configuration, found in /proc by its title
/// (<c>nginx: master process &lt;program&gt; -p … -e … -c …</c>): its pid, the command-line options it was started
/// with (so <c>nginx -t</c> checks the configuration exactly as the master reads it), its workers, and the reload signal.
/// </summary>
internal sealed class NginxMaster
{
    private const string MasterTitle = "nginx: master process ";
    private const string WorkerTitle = "nginx: worker process";
    private const int SigHup = 1;

    /// <summary>The kernel's USER_HZ: /proc start times count in these ticks (100 on every Linux architecture).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>nginx's options that take a value (-c file, -p prefix, -e log, -g directives, -s signal).</summary>
    private static readonly string[] ValueOptions = ["-c", "-p", "-e", "-g", "-s"];
    private static readonly string[] FlagOptions = ["-?", "-h", "-v", "-V", "-t", "-T", "-q"];

    private NginxMaster(int pid, string prefix, IReadOnlyList<string> options, string? startupErrorLog)
    {
        Pid = pid;
        Prefix = prefix;
        Options = options;
        StartupErrorLog = startupErrorLog;
    }

    public int Pid { get; }

    /// <summary>The prefix relative paths of the configuration resolve against (-p, else the compiled one), ending in /.</summary>
    public string Prefix { get; }

    /// <summary>The -p, -e and -g options the master was started with, to pass to nginx -t as they are.</summary>
    public IReadOnlyList<string> Options { get; }

    /// <summary>Where nginx logs before it has read error_log (-e, else the compiled path); null for stderr.</summary>
    public string? StartupErrorLog { get; }

    /// <summary>
    /// The master reading <paramref name="nginx"/>'s configuration file, or null when none runs. A master in another
    /// mount namespace (a container's nginx, with a file of the same name) counts only when it sees this very file.
    /// </summary>
    public static NginxMaster? Find(NginxInstance nginx)
    {
        var ownNamespace = Namespace(System.Environment.ProcessId);
        var config = RealPath(nginx.ConfigPath);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                continue;
            var title = Title(pid);
            if (title is null || !title.StartsWith(MasterTitle, StringComparison.Ordinal))
                continue;
            var master = Parse(pid, title[MasterTitle.Length..], nginx.Build);
            if (master.config == config && (Namespace(pid) == ownNamespace || SeesSameFile(pid, config)))
                return master.master;
        }
        return null;
    }

    /// <summary>Worker processes serving the current configuration (not those finishing requests after a reload).</summary>
    public IReadOnlyList<int> Workers() =>
        Children().Where(pid => Title(pid) is { } t && t.StartsWith(WorkerTitle, StringComparison.Ordinal)
                                                     && !t.Contains("shutting down", StringComparison.Ordinal)).Order().ToList();

    public bool IsRunning => Title(Pid)?.StartsWith(MasterTitle, StringComparison.Ordinal) == true;

    /// <summary>How long ago the newest worker started, that is, the last reload or start; null without workers.</summary>
    public TimeSpan? SinceLastReload()
    {
        var uptime = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture);
        var newest = Workers().Select(StartTicks).Where(t => t > 0).DefaultIfEmpty(-1).Max();
        return newest < 0 ? null : TimeSpan.FromSeconds(Math.Max(0, uptime - newest / TicksPerSecond));
    }

    /// <summary>SIGHUP, as <c>nginx -s reload</c> sends it: re-read the configuration, replace the workers gracefully.</summary>
    public void SignalReload()
    {
        if (kill(Pid, SigHup) == 0)
            return;
        var errno = Marshal.GetLastPInvokeError();
        throw errno == 1 /* EPERM */
            ? new PuoException(ErrorKind.PermissionDenied, "PuoOps.Nginx.SignalDenied",
                $"This user may not signal the nginx master (pid {Pid}). Run as root or as the user nginx runs as.", Pid)
            : new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Nginx.MasterGone",
                $"The nginx master (pid {Pid}) could not be signalled (errno {errno}); it may have exited. Check nginx, then try again.", Pid);
    }

    private static (NginxMaster master, string config) Parse(int pid, string commandLine, NginxBuild build)
    {
        // The title joins the original arguments with spaces; a value runs until the next option.
        var words = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < words.Count; i++)
        {
            var option = ValueOptions.FirstOrDefault(o => words[i].StartsWith(o, StringComparison.Ordinal));
            if (option is null)
                continue;
            var value = new List<string>();
            if (words[i].Length > option.Length)
                value.Add(words[i][option.Length..]);
            while (i + 1 < words.Count && !ValueOptions.Contains(words[i + 1]) && !FlagOptions.Contains(words[i + 1]))
                value.Add(words[++i]);
            values[option] = string.Join(' ', value);
        }
        var prefix = values.TryGetValue("-p", out var p) ? (p.EndsWith('/') ? p : p + "/") : build.Prefix;
        var config = values.TryGetValue("-c", out var c) ? Path.GetFullPath(Path.Combine(prefix, c)) : build.ConfigPath;
        var options = new List<string>();
        foreach (var option in new[] { "-p", "-e", "-g" })
            if (values.TryGetValue(option, out var value))
                options.AddRange([option, value]);
        var startupLog = values.TryGetValue("-e", out var e) ? e : build.ErrorLog;
        return (new NginxMaster(pid, prefix, options, startupLog == "stderr" ? null : Path.GetFullPath(Path.Combine(prefix, startupLog))), RealPath(config));
    }

    private IEnumerable<int> Children()
    {
        var list = $"/proc/{Pid}/task/{Pid}/children";
        if (File.Exists(list))
            return Read(list)?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)) ?? [];
        // Kernels without CONFIG_PROC_CHILDREN: every process's parent, from its stat line.
        return Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0)
            .Where(pid => pid > 0 && StatFields(pid) is { } fields && fields[1] == Pid.ToString(CultureInfo.InvariantCulture))
            .ToList();
    }

    /// <summary>The process title (its command line, as nginx rewrites it), or null when it is gone.</summary>
    private static string? Title(int pid) => Read($"/proc/{pid}/cmdline")?.Replace('\0', ' ').TrimEnd();

    /// <summary>The fields of /proc/pid/stat after the command name: [0] state, [1] parent pid, … [19] start time.</summary>
    private static string[]? StatFields(int pid)
    {
        var stat = Read($"/proc/{pid}/stat");
        var end = stat?.LastIndexOf(')') ?? -1;
        return end < 0 ? null : stat![(end + 2)..].Split(' ');
    }

    private static long StartTicks(int pid) =>
        StatFields(pid) is { Length: > 19 } fields && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : -1;

    private static string? Namespace(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/mnt").LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True when the file at <paramref name="path"/> in the process's root is this one: same size, time and bytes.</summary>
    private static bool SeesSameFile(int pid, string path)
    {
        try
        {
            var theirs = new FileInfo($"/proc/{pid}/root{path}");
            var ours = new FileInfo(path);
            return theirs.Exists && theirs.Length == ours.Length && theirs.LastWriteTimeUtc == ours.LastWriteTimeUtc
                   && File.ReadAllBytes(theirs.FullName).AsSpan().SequenceEqual(File.ReadAllBytes(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string RealPath(string path)
    {
        try
        {
            return new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);
        }
        catch (IOException)
        {
            return Path.GetFullPath(path);
        }
    }

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
