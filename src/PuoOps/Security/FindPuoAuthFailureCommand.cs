using System.Management.Automation;
using PuoOps.Commands.Logs;
using PuoOps.Engine;
using PuoOps.Engine.Logs;

namespace PuoOps.Commands.Security;

/// <summary>
/// Finds the requests answered 401 or 403 (or -Status) in access logs, plain or gzip (nginx combined with or
/// without a forwarded-for field, JSON lines, or a regex), and totals them per client address; -Raw returns
/// the requests themselves.
/// </summary>
[Cmdlet(VerbsCommon.Find, "PuoAuthFailure", SupportsPaging = true, DefaultParameterSetName = GroupSet)]
[OutputType(typeof(AuthFailure), ParameterSetName = [GroupSet])]
[OutputType(typeof(AuthFailureRequest), ParameterSetName = [RawSet])]
public sealed class FindPuoAuthFailureCommand : LogFileCommand
{
    private const string GroupSet = "Group";
    private const string RawSet = "Raw";
    private AccessLogOptions? _options;

    /// <summary>The response statuses to look for.</summary>
    [Parameter]
    [ValidateRange(100, 599)]
    public int[] Status { get; set; } = [401, 403];

    /// <summary>Only addresses with at least this many requests.</summary>
    [Parameter(ParameterSetName = GroupSet)]
    [ValidateRange(1, long.MaxValue)]
    public long Threshold { get; set; } = 1;

    /// <summary>How the lines are written; by default each line by its look ('{': JSON, else nginx).</summary>
    // A string, not the engine's enum: a value-type field of an engine type would load the engine at Import-Module.
    [Parameter]
    [ValidateSet(nameof(AccessLogFormat.Nginx), nameof(AccessLogFormat.Json), nameof(AccessLogFormat.Regex))]
    public string? Format { get; set; }

    /// <summary>For -Format Regex: a regex with the named groups ip and status (and time, method, path, ...).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Pattern { get; set; }

    /// <summary>Return each request instead of the totals per address.</summary>
    [Parameter(Mandatory = true, ParameterSetName = RawSet)]
    public SwitchParameter Raw { get; set; }

    /// <summary>Proxies (addresses or CIDR blocks) whose forwarded-for header names the client.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] TrustedProxy { get; set; } = [];

    protected override void Prepare()
    {
        AccessLogFormat? format = Format is null ? null : Enum.Parse<AccessLogFormat>(Format, ignoreCase: true);
        if (format is { } given && (given == AccessLogFormat.Regex) != (Pattern is not null))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Logs.PatternFormat",
                Pattern is null ? "-Format Regex needs -Pattern, a regex with the named groups ip and status."
                    : $"-Pattern is for -Format Regex, not {given}; leave -Format out or set it to Regex.", Pattern);
        _options = new AccessLogOptions(format, Pattern is null ? null : AccessLog.Pattern(Pattern), Status.ToHashSet(),
            TrustedProxy.Select(AccessLog.ParseNetwork).ToList(), Since, Until, KeepLines: Raw);
    }

    protected override void End()
    {
        var groups = new AuthFailureGroups(_options!.TrustedProxies);
        ReadFiles(file =>
        {
            foreach (var request in AuthFailures.Requests(file, _options!, Stats, WriteProgress, StopToken))
            {
                if (!Raw)
                    groups.Add(request);
                else if (!WriteRow(request))
                    return false;
            }
            return true;
        });
        if (!Raw)
        {
            foreach (var group in groups.Result(Threshold))
            {
                if (!WriteRow(group))
                    break;
            }
        }
        if (Stats.MalformedLines > 0)
            WriteWarning($"{Stats.MalformedLines} of {Stats.Lines} line(s) were not in the {Format ?? (Pattern is null ? "nginx or JSON" : "Regex")} format and were skipped. " +
                "Check -Format (or -Pattern), and that the files are access logs.");
    }
}
