using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Logs;

namespace PuoOps.Commands.Logs;

/// <summary>
/// What the cmdlets that read log files share: -Path (files, directories, wildcards; piped strings or
/// Get-ChildItem output), -Since and -Until, each path and file failing on its own with an error that names it,
/// and the warning about lines too long to read whole.
/// </summary>
public abstract class LogFileCommand : PuoCmdlet
{
    private readonly List<string> _paths = [];

    /// <summary>Log files, directories (every file in them) or wildcards; .gz files are read decompressed.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter]
    [TimeWindow]
    public DateTimeOffset? Since { get; set; }

    [Parameter]
    [TimeWindow]
    public DateTimeOffset? Until { get; set; }

    protected LogScanStats Stats { get; } = new();

    protected sealed override void Begin()
    {
        TimeInput.ValidateWindow(Since, Until);
        Prepare();
    }

    /// <summary>Checks the cmdlet's own parameters before anything is read; a failure is terminating.</summary>
    protected abstract void Prepare();

    // Paths are gathered and read in End, so piped files are one search with one -First and one total.
    protected sealed override void Process() => _paths.AddRange(Path);

    /// <summary>
    /// Calls <paramref name="read"/> for every file the paths name, in order, until it returns false. A path that
    /// names nothing or a file that cannot be read is a non-terminating error naming it; the rest go on.
    /// </summary>
    protected void ReadFiles(Func<string, bool> read)
    {
        var more = true;
        ForEachItem(_paths, path =>
        {
            if (more)
                ForEachItem(LogFiles.Expand(GetUnresolvedProviderPathFromPSPath(path)), file => more = more && read(file));
        });
        if (Stats.TruncatedLines > 0)
            WriteWarning($"{Stats.TruncatedLines} line(s) were longer than {Display.Bytes(LogReader.ChunkSize)}; each was searched in its first {Display.Bytes(LogReader.ChunkSize)} (or a little more) only.");
    }
}
