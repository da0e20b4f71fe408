namespace PuoOps;

/// <summary>
/// The one verdict every check in the module returns, so a runbook script can filter
/// PostgreSQL, Redis, Docker and HTTP results alike with <c>Where-Object Status -ne OK</c>.
/// </summary>
public enum Status
{
    OK = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

/// <summary>Maps a measured percentage onto <see cref="Status"/> with the usual two thresholds.</summary>
public static class Thresholds
{
    public static Status Classify(double percent, double warningPercent, double criticalPercent) =>
        double.IsNaN(percent) ? Status.Unknown
        : percent >= criticalPercent ? Status.Critical
        : percent >= warningPercent ? Status.Warning
        : Status.OK;

    /// <summary>Throws <see cref="PuoException"/> (InvalidArgument) unless 0 &lt; warning &lt;= critical.</summary>
    public static void Validate(double warningPercent, double criticalPercent)
    {
        if (warningPercent <= 0 || criticalPercent <= 0 || warningPercent > criticalPercent)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Thresholds.Invalid",
                $"The warning threshold ({warningPercent}) must be above 0 and not above the critical threshold ({criticalPercent}).");
    }
}

/// <summary>Combines verdicts: a report, or a check made of several, is as bad as its worst part.</summary>
public static class Statuses
{
    /// <summary>The worst of <paramref name="statuses"/>: Critical, then Unknown (not knowing is worse than a warning), then Warning; OK when empty.</summary>
    public static Status Worst(IEnumerable<Status> statuses) =>
        statuses.DefaultIfEmpty(Status.OK).MaxBy(Severity);

    private static int Severity(Status status) => status switch
    {
        Status.Critical => 3,
        Status.Unknown => 2,
        Status.Warning => 1,
        _ => 0,
    };
}
