using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>The backups in a directory, newest first, with their manifests; -Latest only the newest.</summary>
[Cmdlet(VerbsCommon.Get, "PuoBackup")]
[OutputType(typeof(DatabaseBackup))]
public sealed class GetPuoBackupCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Only backups of this database.</summary>
    [Parameter]
    public string? Database { get; set; }

    [Parameter]
    public SwitchParameter Latest { get; set; }

    protected override void Process()
    {
        var backups = BackupStore.List(GetUnresolvedProviderPathFromPSPath(Path), ReportSkipped)
            .Where(b => Database is null || string.Equals(b.Database, Database, StringComparison.Ordinal));
        foreach (var backup in Latest ? backups.Take(1) : backups)
            WriteObject(backup);
    }
}
