using PuoOps.Engine;

namespace PuoOps;

/// <summary>Get-PuoProcess: one process of this machine, like a row of ps aux, with the container it runs in.</summary>
public sealed class ProcessInfo
{
    public string Environment { get; init; } = "";
    public int Pid { get; init; }
    /// <summary>
    /// The same as Pid, under the name Get-Process uses, so Stop-Process and Wait-Process bind it from the pipeline.
    /// Without it Stop-Process would bind Name, and stop every process of that name.
    /// </summary>
    public int Id => Pid;
    public int ParentPid { get; init; }
    /// <summary>The program name (comm), completed from the command line when the kernel cut it at 15 characters.</summary>
    public string Name { get; init; } = "";
    /// <summary>The owner (real user), by name from /etc/passwd, else the numeric id.</summary>
    public string User { get; init; } = "";
    /// <summary>R running, S sleeping, D disk wait, Z zombie, T stopped, I idle (kernel).</summary>
    public string State { get; init; } = "";
    public long Threads { get; init; }
    /// <summary>Resident set size (ps RSS), in bytes.</summary>
    public long ResidentBytes { get; init; }
    /// <summary>Virtual size (ps VSZ), in bytes.</summary>
    public long VirtualBytes { get; init; }
    /// <summary>ResidentBytes as a percentage of the machine's memory (ps %MEM).</summary>
    public double MemoryPercent { get; init; }
    /// <summary>CPU use over the sample interval, like top: 100 is one full core, so it can exceed 100.</summary>
    public double CpuPercent { get; init; }
    /// <summary>User plus system CPU time since the process started (ps TIME).</summary>
    public TimeSpan CpuTime { get; init; }
    public DateTimeOffset StartTime { get; init; }
    /// <summary>The arguments as ps shows them, secrets masked; [name] for a kernel thread.</summary>
    public string CommandLine { get; init; } = "";
    /// <summary>The container id its cgroup names (Docker, containerd, CRI-O, Podman), or null outside a container.</summary>
    public string? ContainerId { get; init; }
    /// <summary>The container's name, when the environment's Docker daemon knows the id.</summary>
    public string? Container { get; init; }
    /// <summary>The container's compose project (label com.docker.compose.project).</summary>
    public string? Project { get; init; }
    /// <summary>The container's compose service, else its Swarm service.</summary>
    public string? Service { get; init; }

    public override string ToString() => $"{Pid} {Name}";
}

/// <summary>What Get-PuoProcess sorts by.</summary>
public enum ProcessSort
{
    Memory,
    Cpu,
}

/// <summary>Which processes to list and how many.</summary>
public sealed class ProcessQuery
{
    /// <summary>Keep processes whose Name matches one of these; null keeps all.</summary>
    public IReadOnlyList<NamePattern>? Names { get; init; }
    /// <summary>Keep processes in a container whose compose (or Swarm) service matches one of these; null keeps all.</summary>
    public IReadOnlyList<NamePattern>? Services { get; init; }
    public ProcessSort SortBy { get; init; } = ProcessSort.Memory;
    /// <summary>How many of the sorted processes to pass over first.</summary>
    public long Skip { get; init; }
    /// <summary>How many to return after <see cref="Skip"/>; null returns the rest.</summary>
    public long? Take { get; init; } = 20;
    /// <summary>How long CPU use is sampled for.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>The processes of one listing, how many matched before paging, and what could not be found out.</summary>
public sealed class ProcessListing
{
    public IReadOnlyList<ProcessInfo> Processes { get; init; } = [];
    /// <summary>How many processes matched the filters, before Skip and Take.</summary>
    public long TotalCount { get; init; }
    /// <summary>Literal -Name or -Service values (no wildcard) that matched no process.</summary>
    public IReadOnlyList<string> Unmatched { get; init; } = [];
    /// <summary>Why some processes are not mapped to their container (Docker unreachable, ...).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}
