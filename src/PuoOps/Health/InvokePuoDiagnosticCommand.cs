using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Health;

namespace PuoOps.Commands.Health;

/// <summary>The runbook's quick diagnostics as one report, each section with a Status; -HtmlPath writes it as a self-contained page.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoDiagnostic", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(DiagnosticReport))]
public sealed class InvokePuoDiagnosticCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? HtmlPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateSet(nameof(DiagnosticArea.Containers), nameof(DiagnosticArea.Health), nameof(DiagnosticArea.Latency), nameof(DiagnosticArea.Postgres),
        nameof(DiagnosticArea.Database), nameof(DiagnosticArea.SlowQueries), nameof(DiagnosticArea.Redis), nameof(DiagnosticArea.Processes),
        nameof(DiagnosticArea.Disk), IgnoreCase = true)]
    public DiagnosticArea[]? Section { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? DataPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? BackupPath { get; set; }

    private string? _htmlFile;

    protected override void Begin()
    {
        if (HtmlPath is null)
            return;
        // Refuse a taken name before the diagnostics run, not after.
        _htmlFile = GetUnresolvedProviderPathFromPSPath(HtmlPath);
        if (File.Exists(_htmlFile) || Directory.Exists(_htmlFile))
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Diagnostic.HtmlExists",
                $"{_htmlFile} already exists; the report never overwrites a file. Give a new name.", _htmlFile));
    }

    protected override void Process()
    {
        var options = new DiagnosticOptions
        {
            Areas = Section,
            DataPaths = DataPath?.Select(GetUnresolvedProviderPathFromPSPath).ToList(),
            BackupPaths = BackupPath?.Select(GetUnresolvedProviderPathFromPSPath).ToList(),
        };
        var report = Await(DiagnosticService.RunAsync(Context, options));
        if (_htmlFile is not null && ShouldProcess(_htmlFile, "Write the diagnostic report as an HTML page (owner-only)"))
        {
            try
            {
                DiagnosticHtml.Write(report, _htmlFile);
                report.HtmlPath = _htmlFile;
            }
            catch (PuoException ex)
            {
                WriteItemError(ex, _htmlFile);
            }
        }
        WriteObject(report);
    }
}
