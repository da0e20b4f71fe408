using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Logs;

namespace PuoOps.Commands.Logs;

/// <summary>
/// Searches log files, plain or gzip, for lines that match a regex and/or have a duration of at least
/// -SlowerThan, in a time window; streams File, LineNumber, Time, Duration and Line for each.
/// </summary>
[Cmdlet(VerbsCommon.Search, "PuoLog", SupportsPaging = true)]
[OutputType(typeof(LogLine))]
public sealed class SearchPuoLogCommand : LogFileCommand
{
    private LogSearchOptions _options = new();

    /// <summary>A .NET regular expression each line must match (case-insensitive unless -CaseSensitive).</summary>
    [Parameter(Position = 1)]
    [ValidateNotNullOrEmpty]
    public string? Pattern { get; set; }

    /// <summary>Only lines with a written duration at least this long (duration=1234ms, took 1.2s, ...).</summary>
    [Parameter]
    [Duration]
    public TimeSpan? SlowerThan { get; set; }

    [Parameter]
    public SwitchParameter CaseSensitive { get; set; }

    protected override void Prepare()
    {
        if (SlowerThan < TimeSpan.Zero)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Logs.InvalidDuration", $"-SlowerThan must not be negative (got {SlowerThan}).", SlowerThan);
        _options = new LogSearchOptions(Pattern is null ? null : LogSearch.Pattern(Pattern, CaseSensitive), SlowerThan, Since, Until);
    }

    protected override void End()
    {
        ReadFiles(file =>
        {
            foreach (var line in LogSearch.Search(file, _options, Stats, WriteProgress, StopToken))
            {
                if (!WritePaged(line))
                    return false;
            }
            return true;
        });
        WriteTotalCount();
    }
}
