namespace PuoOps.Engine.Deployment;

/// <summary>Switch-PuoTraffic's parameters: where to, and the thresholds each phase judges by.</summary>
public sealed record SwitchOptions
{
    /// <summary>The target colour; null: the idle one (the only colour that is not active), or with <see cref="Rollback"/> the previous one.</summary>
    public string? To { get; init; }

    /// <summary>Switch back to the colour the last switch came from.</summary>
    public bool Rollback { get; init; }

    public int HealthyProbes { get; init; } = 3;
    public long AnalysisRequests { get; init; } = 200;
    public TimeSpan MaxP99 { get; init; } = TimeSpan.FromMilliseconds(500);
    public double MinSuccessRate { get; init; } = 0.99;
    public TimeSpan Monitor { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan MinReloadInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Switch even when the target fails the pre-switch analysis.</summary>
    public bool Force { get; init; }
}

/// <summary>What a switch will do, worked out before anything changes (and all -WhatIf shows).</summary>
public sealed class SwitchPlan
{
    public string From { get; init; } = "";
    public string To { get; init; } = "";
    public IReadOnlyList<string> FromBackends { get; init; } = [];
    public IReadOnlyList<string> ToBackends { get; init; } = [];
    public string TrafficFile { get; init; } = "";
    public string Upstream { get; init; } = "";
    public Uri FrontUrl { get; init; } = null!;

    /// <summary>Every step, as -WhatIf and the confirmation prompt name them.</summary>
    public string Describe(SwitchOptions options) =>
        $"switch traffic from {From} to {To} ({string.Join(", ", ToBackends)}): " +
        $"{options.HealthyProbes} consecutive /health probes of each {To} backend and {options.AnalysisRequests} requests with P99 <= {options.MaxP99.TotalMilliseconds:0} ms " +
        $"and success >= {options.MinSuccessRate:P1}{(options.Force ? " (not enforced: -Force)" : "")}; " +
        $"write {TrafficFile} (upstream {Upstream}) atomically, nginx -t, one graceful reload verified by new workers and no [emerg]; " +
        $"confirm /version through {FrontUrl} matches {To}'s own; watch errors and P99 for {options.Monitor.TotalSeconds:0} s and roll back to {From} on trouble";
}
