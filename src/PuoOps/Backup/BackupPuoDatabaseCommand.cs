using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>
/// pg_dump of the environment's database into a timestamped backup with a JSON manifest; -Keep removes
/// the oldest backups of the same database beyond n (one ShouldProcess each).
/// </summary>
[Cmdlet(VerbsData.Backup, "PuoDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(DatabaseBackup))]
public sealed class BackupPuoDatabaseCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Custom or Directory. A string, not the engine's enum: the engine loads only after PowerShell has read the cmdlet types.</summary>
    [Parameter]
    [ValidateSet(nameof(BackupFormat.Custom), nameof(BackupFormat.Directory))]
    public string Format { get; set; } = nameof(BackupFormat.Custom);

    [Parameter]
    [ValidateRange(1, 64)]
    public int Jobs { get; set; } = 1;

    /// <summary>Names or wildcard patterns (schema.table allowed), resolved by the engine to the exact tables dumped.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[] Table { get; set; } = [];

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int? Keep { get; set; }

    /// <summary>The folder holding pg_dump; without it, PATH, then the distribution's usual folders.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PgBinPath { get; set; }

    /// <summary>Write even into an existing folder another user owns or can write to.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var context = Context;
        var directory = GetUnresolvedProviderPathFromPSPath(Path);
        var what = Table.Length == 0 ? $"database {context.Environment.Postgres}" : $"table(s) {string.Join(", ", Table)} of {context.Environment.Postgres}";
        if (!ShouldProcess(what, $"Back up ({Format} format) to {directory}"))
            return;
        var format = Enum.Parse<BackupFormat>(Format, ignoreCase: true);
        var backup = Await(BackupService.BackupAsync(context, new BackupOptions { Directory = directory, Format = format, Jobs = Jobs, Tables = Table, PgBinPath = PgBinPath, Force = Force }));
        WriteObject(backup);
        if (Keep is not { } keep)
            return;
        foreach (var (old, error) in BackupStore.RemoveExpired(context, directory, backup, keep,
                     old => ShouldProcess($"{old.Path} (taken {old.Time:u})", $"Remove the backup (more than -Keep {keep})"), ReportSkipped))
            WriteItemError(error, old.Path);
    }
}
