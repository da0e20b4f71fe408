using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>What Restore-PuoBackup and Test-PuoBackup share: how pg_restore runs (-Jobs, -PgBinPath, -RestoreTimeout) and the query that proves the result.</summary>
public abstract class RestoreCommandBase : PuoCmdlet
{
    [Parameter]
    [ValidateRange(1, 64)]
    public int Jobs { get; set; } = 1;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SanityQuery { get; set; }

    /// <summary>The folder holding pg_restore and psql; without it, PATH, then the distribution's usual folders.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PgBinPath { get; set; }

    /// <summary>How long pg_restore may run before it is stopped; the restore's own wait, not -TimeoutSec.</summary>
    [Parameter]
    [Duration]
    public TimeSpan RestoreTimeout { get; set; } = BackupVerifier.DefaultRestoreTimeout;

    protected override void Begin()
    {
        if (RestoreTimeout <= TimeSpan.Zero)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Backup.RestoreTimeout", $"-RestoreTimeout must be positive (got {RestoreTimeout}).", RestoreTimeout));
    }
}
