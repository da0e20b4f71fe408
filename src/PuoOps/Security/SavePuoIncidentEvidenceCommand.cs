using System.Management.Automation;
using PuoOps.Engine.Security;

namespace PuoOps.Commands.Security;

[Cmdlet(VerbsData.Save, "PuoIncidentEvidence", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(IncidentEvidence))]
public sealed class SavePuoIncidentEvidenceCommand : PuoCmdlet
{
    /// <summary>Log folders or files; the runbook's archive/logs by default.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] LogPath { get; set; } = ["archive/logs"];

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[] Table { get; set; } = [];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = ".";

    /// <summary>The folder holding pg_dump; without it, PATH, then the distribution's usual folders.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PgBinPath { get; set; }

    protected override void Process()
    {
        var logPaths = LogPath.SelectMany(Resolve).ToList();
        var destination = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Destination);
        var logs = EvidenceService.FindLogFiles(logPaths);
        var tables = string.Join(", ", Table.Prepend(EvidenceService.AuditTable).Distinct());
        if (!ShouldProcess(destination, $"Save {logs.Count} log files ({Display.Bytes(logs.Sum(l => l.SizeBytes))}) and a pg_dump of {tables} as incident evidence"))
            return;
        var result = Await(EvidenceService.SaveAsync(Context, new EvidenceOptions(logPaths, Table, destination, PgBinPath)));
        foreach (var warning in result.Warnings)
            WriteWarning(warning);
        foreach (var error in result.Errors)
            WriteItemError(error);
        WriteObject(result.Evidence);
    }

    /// <summary>A path or wildcard relative to PowerShell's location, as file system paths; NotFound when nothing is there.</summary>
    private IEnumerable<string> Resolve(string path)
    {
        try
        {
            return GetResolvedProviderPathFromPSPath(path, out _);
        }
        catch (ItemNotFoundException ex)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Security.LogPathNotFound",
                $"The log path {path} does not exist. Give the folder of the logs with -LogPath (the default is the runbook's archive/logs).", path, ex);
        }
    }
}
