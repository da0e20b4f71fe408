using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>
/// The runbook's migration procedure as one guarded step: verified backup, migration command,
/// alembic_version check, optional smoke test; on failure an error naming the backup (or -RestoreOnFailure).
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "PuoMigration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(MigrationResult))]
public sealed class InvokePuoMigrationCommand : PuoCmdlet
{
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string BackupPath { get; set; } = "";

    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Command { get; set; } = MigrationService.DefaultCommand;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? WorkingDirectory { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ExpectedVersion { get; set; }

    /// <summary>Runs after the version check; the migration fails if it throws or outputs $false.</summary>
    [Parameter]
    public ScriptBlock? SmokeTest { get; set; }

    [Parameter]
    public SwitchParameter RestoreOnFailure { get; set; }

    /// <summary>Names of variables of this session's environment the command also gets, besides PATH, HOME, the locale and the database's.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] PassVariable { get; set; } = [];

    protected override void Process()
    {
        var context = Context;
        var workingDirectory = GetUnresolvedProviderPathFromPSPath(WorkingDirectory ?? SessionState.Path.CurrentFileSystemLocation.Path);
        if (!ShouldProcess($"database {context.Environment.Postgres}", $"Back up to {BackupPath}, then run '{Command}' in {workingDirectory}"))
            return;
        var run = MigrationService.Start(context);
        try
        {
            Await(MigrationService.BackupAsync(context, run, GetUnresolvedProviderPathFromPSPath(BackupPath)));
            Await(MigrationService.MigrateAsync(context, run, Command, workingDirectory, ExpectedVersion, PassVariable));
            if (SmokeTest is not null)
                RunSmokeTest(run);
            run.Succeeded = true;
            run.Message = $"Migrated {run.Database} from '{run.VersionBefore}' to '{run.VersionAfter}'; verified backup: {run.BackupPath}.";
            WriteObject(run);
        }
        catch (PuoException ex) when (!StopToken.IsCancellationRequested)
        {
            if (RestoreOnFailure && run.BackupPath is not null)
                Await(MigrationService.RestoreAsync(context, run));
            var failure = MigrationService.Failed(run, ex);
            WriteObject(run);
            ThrowFatal(failure, run.BackupPath);
        }
    }

    /// <summary>The script block runs here, on the pipeline thread, as PowerShell requires.</summary>
    private void RunSmokeTest(MigrationResult run)
    {
        var step = MigrationService.BeginStep(run, "SmokeTest");
        try
        {
            var output = SmokeTest!.Invoke();
            if (output.Any(o => o?.BaseObject is false))
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.SmokeTestFailed", "The smoke test returned $false.");
            MigrationService.EndStep(step, Status.OK, "Passed.");
        }
        catch (RuntimeException ex)
        {
            MigrationService.EndStep(step, Status.Critical, ex.Message);
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.SmokeTestFailed", $"The smoke test failed: {ex.Message}", null, ex);
        }
        catch (PuoException ex)
        {
            MigrationService.EndStep(step, Status.Critical, ex.Message);
            throw;
        }
    }
}
