using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>
/// Checks each backup (piped from Backup-PuoDatabase or Get-PuoBackup): checksum and pg_restore --list,
/// and with -Restore a restore into a scratch database compared with the manifest. ShouldProcess names the
/// scratch database it creates and drops, and the orphaned ones it drops first.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "PuoBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(BackupTestResult))]
public sealed class TestPuoBackupCommand : RestoreCommandBase
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(BackupPathCompleter))]
    [TextOrProperty(nameof(Path), "FullName")]
    public string[] Path { get; set; } = [];

    [Parameter]
    public SwitchParameter Restore { get; set; }

    [Parameter]
    [Duration]
    public TimeSpan? MaxAge { get; set; }

    /// <summary>With -Restore: restore even from a folder that another user owns or can write to.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Begin()
    {
        base.Begin();
        if (MaxAge is { } age && age <= TimeSpan.Zero)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Backup.MaxAge", $"-MaxAge must be positive (got {age}).", age));
        RowView = Restore ? "Restore" : null;
    }

    protected override void Process() => ForEachItem(Path, path =>
    {
        var context = Context;
        var fullPath = GetUnresolvedProviderPathFromPSPath(path);
        var (scratch, description) = Await(BackupVerifier.DescribeAsync(context, BackupStore.Read(fullPath, context.Environment.Name), Restore));
        if (!ShouldProcess(description, Restore ? "Test the backup by restoring it" : "Test the backup"))
            return;
        var options = new BackupTestOptions
        {
            Restore = Restore, ScratchDatabase = scratch, MaxAge = MaxAge, Jobs = Jobs, SanityQuery = SanityQuery, PgBinPath = PgBinPath,
            RestoreTimeout = RestoreTimeout, Force = Force,
        };
        WriteRow(Await(BackupVerifier.TestAsync(context, fullPath, options)));
    });
}
