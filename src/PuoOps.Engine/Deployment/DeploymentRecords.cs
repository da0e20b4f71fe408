namespace PuoOps;

/// <summary>One colour of a blue-green pair: its backends, where they came from, and whether they answer /health.</summary>
public sealed class ColorState
{
    public string Environment { get; init; } = "";
    public string Color { get; init; } = "";

    /// <summary>True for the colour the traffic file sends traffic to.</summary>
    public bool Active { get; init; }

    /// <summary>host:port of each backend.</summary>
    public IReadOnlyList<string> Backends { get; init; } = [];

    /// <summary>OK when every backend answered /health with 2xx; Critical when one did not.</summary>
    public Status Status { get; init; }
    public string Detail { get; init; } = "";

    /// <summary>Environment (Connect-PuoEnvironment -Color), Swarm (services labelled puo.color) or Container (without Swarm: containers so labelled).</summary>
    public string Source { get; init; } = "";

    /// <summary>The Swarm services (or containers) of the colour, if it came from Docker.</summary>
    public IReadOnlyList<string> Services { get; init; } = [];

    /// <summary>The image the colour's Swarm service (or container) runs.</summary>
    public string? Image { get; init; }

    public override string ToString() => $"{Color} {Status}: {string.Join(", ", Backends)}";
}

/// <summary>Get-PuoTrafficState: where nginx sends traffic now, each colour's health, the nginx processes and the last switch.</summary>
public sealed class TrafficState
{
    public string Environment { get; init; } = "";

    /// <summary>The colour whose backends the traffic file names; null when they match no colour.</summary>
    public string? ActiveColor { get; init; }

    public string Upstream { get; init; } = "";
    public string TrafficFile { get; init; } = "";

    /// <summary>The servers the traffic file names now.</summary>
    public IReadOnlyList<string> ActiveBackends { get; init; } = [];

    public IReadOnlyList<ColorState> Colors { get; init; } = [];

    /// <summary>The nginx master reading the configuration; null when none runs.</summary>
    public int? NginxMasterPid { get; init; }

    public IReadOnlyList<int> NginxWorkers { get; init; } = [];

    /// <summary>The newest switch record of the history file; null before the first switch.</summary>
    public TrafficSwitch? LastSwitch { get; init; }

    public override string ToString() => $"{Environment}: {ActiveColor ?? "(unknown)"} active";
}

/// <summary>
/// What Switch-PuoTraffic did, phase by phase, with the figures each phase judged by; also one line of the history
/// file beside the traffic file (Get-PuoDeploymentHistory).
/// </summary>
public sealed class TrafficSwitch
{
    public string Environment { get; init; } = "";
    public string From { get; init; } = "";
    public string To { get; init; } = "";
    public DateTimeOffset Started { get; init; }
    public DateTimeOffset Finished { get; set; }

    /// <summary>OK: switched and stayed; Critical: rolled back.</summary>
    public Status Status => RolledBack ? Status.Critical : Status.OK;

    /// <summary>True when the switch was undone (confirmation failed, or the watch window saw trouble).</summary>
    public bool RolledBack { get; set; }
    public string? RollbackReason { get; set; }

    /// <summary>When traffic was back on the previous colour.</summary>
    public DateTimeOffset? RolledBackAt { get; set; }

    /// <summary>The pre-switch analysis was skipped or overruled (-Force).</summary>
    public bool Forced { get; init; }

    /// <summary>Consecutive health checks every target backend passed.</summary>
    public long HealthyProbes { get; set; }
    public long AnalysisRequests { get; set; }
    public double AnalysisSuccessRate { get; set; }
    public TimeSpan AnalysisP99 { get; set; }

    /// <summary>Pre-switch analysis: health probes and the latency run against the target.</summary>
    public TimeSpan AnalysisTime { get; set; }

    /// <summary>Write, nginx -t and the verified reload.</summary>
    public TimeSpan ReloadTime { get; set; }

    /// <summary>The probes through nginx that showed the target's /version.</summary>
    public TimeSpan ConfirmationTime { get; set; }
    public long ConfirmationProbes { get; set; }

    /// <summary>Analysis, reload and confirmation: how long the switch itself took.</summary>
    public TimeSpan SwitchTime => AnalysisTime + ReloadTime + ConfirmationTime;

    public TimeSpan MonitorTime { get; set; }
    public long MonitorRequests { get; set; }
    public long MonitorFailed { get; set; }
    public TimeSpan MonitorP99 { get; set; }

    public IReadOnlyList<string> FromBackends { get; init; } = [];
    public IReadOnlyList<string> ToBackends { get; init; } = [];
    public IReadOnlyList<int> PreviousWorkers { get; set; } = [];
    public IReadOnlyList<int> Workers { get; set; } = [];
    public string TrafficFile { get; init; } = "";
    public string? BackupFile { get; set; }

    /// <summary>Anything else worth knowing, e.g. that the watch window was cut short.</summary>
    public string? Note { get; set; }

    /// <summary>The old colour is left running at least until then, so switching back is instant.</summary>
    public DateTimeOffset KeepPreviousUntil { get; set; }

    public override string ToString() => $"{From} -> {To}{(RolledBack ? $" rolled back: {RollbackReason}" : "")}";
}

/// <summary>What Publish-PuoDeployment did to a colour.</summary>
public sealed class DeploymentResult
{
    public string Environment { get; init; } = "";
    public string Color { get; init; } = "";

    /// <summary>Created, Updated (Swarm service), StackDeployed (docker stack deploy) or ComposeUp (docker compose up, no Swarm).</summary>
    public string Action { get; init; } = "";
    public IReadOnlyList<string> Services { get; init; } = [];
    public string? Image { get; init; }
    public string? PreviousImage { get; init; }
    public IReadOnlyList<string> Backends { get; init; } = [];
    public Status Status { get; init; }
    public string Detail { get; init; } = "";
    public TimeSpan Duration { get; init; }

    public override string ToString() => $"{Color} {Action}: {Image} {Status}";
}
