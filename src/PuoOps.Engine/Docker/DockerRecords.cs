namespace PuoOps;

/// <summary>Get-PuoContainer: one container, like a row of docker compose ps.</summary>
public sealed class Container
{
    public string Environment { get; init; } = "";
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    /// <summary>The compose project (label com.docker.compose.project), or null for a container outside compose.</summary>
    public string? Project { get; init; }
    /// <summary>The compose service, else the Swarm service (label com.docker.swarm.service.name).</summary>
    public string? Service { get; init; }
    /// <summary>The compose replica number (label com.docker.compose.container-number).</summary>
    public int? Number { get; init; }
    /// <summary>created, running, paused, restarting, removing, exited or dead.</summary>
    public string State { get; init; } = "";
    /// <summary>Docker's human status, e.g. "Up 3 minutes (healthy)".</summary>
    public string Status { get; init; } = "";
    /// <summary>healthy, unhealthy or starting; null when the container has no healthcheck.</summary>
    public string? Health { get; init; }
    public string Image { get; init; } = "";
    public DateTimeOffset Created { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public long RestartCount { get; init; }
    public int? ExitCode { get; init; }
    /// <summary>Published and exposed ports, as docker ps prints them (127.0.0.1:8000->8000/tcp).</summary>
    public string[] Ports { get; init; } = [];
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public override string ToString() => Name;
}

/// <summary>Get-PuoContainerStats: one sample of a container's resource use, like a row of docker stats --no-stream.</summary>
public sealed class ContainerStats
{
    public string Environment { get; init; } = "";
    public Status Status { get; init; }
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string? Service { get; init; }
    /// <summary>As docker stats counts it: 100 is one full CPU, so it can exceed 100 on a multi-core host.</summary>
    public double CpuPercent { get; init; }
    public long MemoryUsage { get; init; }
    public long MemoryLimit { get; init; }
    public double MemoryPercent { get; init; }
    public long NetworkReceivedBytes { get; init; }
    public long NetworkSentBytes { get; init; }
    public long BlockReadBytes { get; init; }
    public long BlockWrittenBytes { get; init; }
    public long Pids { get; init; }
    public DateTimeOffset Read { get; init; }
    /// <summary>The time between the two daemon readings CPU % is computed over (at least one stats collection, about 1 s).</summary>
    public TimeSpan SampleWindow { get; init; }
    /// <summary>Deprecated: use SampleWindow (a TimeSpan); removed in the next release.</summary>
    [Obsolete("Use SampleWindow.")]
    public double SampleSeconds => Math.Round(SampleWindow.TotalSeconds, 3);
    public string Message { get; init; } = "";
}

/// <summary>Restart-, Stop- and Start-PuoService: what happened to one container or Swarm service.</summary>
public sealed class ServiceChange
{
    public string Environment { get; init; } = "";
    public string Service { get; init; } = "";
    /// <summary>Compose or Swarm.</summary>
    public string Kind { get; init; } = "";
    /// <summary>The container (compose) or the Swarm service changed.</summary>
    public string Target { get; init; } = "";
    public string Action { get; init; } = "";
    public string Before { get; init; } = "";
    public string After { get; init; } = "";
    public bool Changed { get; init; }
    /// <summary>healthy, unhealthy or starting after the action; null without a healthcheck.</summary>
    public string? Health { get; init; }
    public TimeSpan Duration { get; init; }
}

/// <summary>Set-PuoServiceScale: the replica count before and after.</summary>
public sealed class ServiceScale
{
    public string Environment { get; init; } = "";
    public string Service { get; init; } = "";
    public string Kind { get; init; } = "";
    public long Before { get; init; }
    public long After { get; init; }
    public string[] Added { get; init; } = [];
    public string[] Removed { get; init; } = [];
    /// <summary>True when the running replicas match the requested count (Swarm: the service converged).</summary>
    public bool Converged { get; init; }
    public TimeSpan Duration { get; init; }
}

/// <summary>Get-PuoServiceLog: one log line.</summary>
public sealed class ServiceLogLine
{
    public string Environment { get; init; } = "";
    /// <summary>When the line was written; set with -Timestamps (docker logs -t), else null.</summary>
    public DateTimeOffset? Time { get; init; }
    public string Container { get; init; } = "";
    /// <summary>stdout or stderr.</summary>
    public string Stream { get; init; } = "";
    public string Message { get; init; } = "";

    public override string ToString() => Message;
}

/// <summary>Get-PuoImage: one local image and the containers that use it.</summary>
public sealed class DockerImage
{
    public string Environment { get; init; } = "";
    public string Id { get; init; } = "";
    /// <summary>repository:tag names; empty for a dangling image.</summary>
    public string[] Tags { get; init; } = [];
    public DateTimeOffset Created { get; init; }
    public long Size { get; init; }
    /// <summary>Names of the containers (running or not) created from this image.</summary>
    public string[] Containers { get; init; } = [];

    public override string ToString() => Tags.Length > 0 ? Tags[0] : Id;
}
