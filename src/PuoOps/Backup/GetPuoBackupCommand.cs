using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>The backups in a directory, newest first, with their manifests; -Latest only the newest.</summary>
[Cmdlet(VerbsCommon.Get, "PuoBackup", SupportsPaging = true)]
[OutputType(typeof(DatabaseBackup))]
public sealed class GetPuoBackupCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    [TextOrProperty(nameof(Path), "FullName")]
    public string Path { get; set; } = "";

    /// <summary>Only backups of the databases this name (wildcards allowed) selects.</summary>
    [Parameter]
    [SupportsWildcards]
    public string? Database { get; set; }

    [Parameter]
    public SwitchParameter Latest { get; set; }

    protected override void Process()
    {
        var database = Database is null ? null : NamePatterns([Database], nameof(Database))[0];
        var backups = BackupStore.List(GetUnresolvedProviderPathFromPSPath(Path), ReportSkipped).Where(b => database?.IsMatch(b.Database) != false);
        WriteRows(Latest ? backups.Take(1) : backups);
    }
}
