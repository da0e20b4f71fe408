using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>
/// Restores a backup into a new database, verifies it against the manifest and swaps it in by renaming;
/// the original is untouched until the swap and kept as &lt;name&gt;_before_restore_&lt;timestamp&gt;. A file that is not a
/// pg_dump archive, an invalid manifest, or a backup in a folder another user can write is refused before ShouldProcess.
/// </summary>
[Cmdlet(VerbsData.Restore, "PuoBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Path")]
[OutputType(typeof(RestoreResult))]
public sealed class RestorePuoBackupCommand : PuoCmdlet
{
    /// <summary>A backup file or folder (or one piped from Get-PuoBackup); with -Latest, the directory to take the newest from.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    [Parameter]
    public SwitchParameter Latest { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Database { get; set; }

    [Parameter]
    [ValidateRange(1, 64)]
    public int Jobs { get; set; } = 1;

    [Parameter]
    public SwitchParameter DropPrevious { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SanityQuery { get; set; }

    /// <summary>Restore even from a folder that another user owns or can write to.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        var backup = Latest ? BackupStore.Latest(path, Database, ReportSkipped) : BackupStore.Read(path, null);
        var options = new RestoreOptions { Database = Database, Jobs = Jobs, DropPrevious = DropPrevious, SanityQuery = SanityQuery, Force = Force };
        var context = Context;
        if (!ShouldProcess($"{Await(RestoreService.DescribeAsync(context, backup, options))} on {context.Environment.Name}", "Restore, verify and swap in"))
            return;
        WriteObject(Await(RestoreService.RestoreAsync(context, backup, options)));
    }
}
