using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>
/// Checks each backup (piped from Backup-PuoDatabase or Get-PuoBackup): checksum and pg_restore --list,
/// and with -Restore a restore into a scratch database compared with the manifest.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "PuoBackup")]
[OutputType(typeof(BackupTestResult))]
public sealed class TestPuoBackupCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(BackupPathCompleter))]
    public string[] Path { get; set; } = [];

    [Parameter]
    public SwitchParameter Restore { get; set; }

    [Parameter]
    public TimeSpan? MaxAge { get; set; }

    [Parameter]
    [ValidateRange(1, 64)]
    public int Jobs { get; set; } = 1;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SanityQuery { get; set; }

    /// <summary>With -Restore: restore even from a folder that another user owns or can write to.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Begin()
    {
        if (MaxAge is { } age && age <= TimeSpan.Zero)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Backup.MaxAge", $"-MaxAge must be positive (got {age}).", age));
    }

    protected override void Process()
    {
        foreach (var path in Path)
        {
            try
            {
                var options = new BackupTestOptions { Restore = Restore, MaxAge = MaxAge, Jobs = Jobs, SanityQuery = SanityQuery, Force = Force };
                WriteObject(Await(BackupVerifier.TestAsync(Context, GetUnresolvedProviderPathFromPSPath(path), options)));
            }
            catch (PuoException ex)
            {
                WriteItemError(ex, path);
            }
        }
    }
}
