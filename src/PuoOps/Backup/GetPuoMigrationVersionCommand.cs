using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>The runbook's "SELECT version_num FROM alembic_version;".</summary>
[Cmdlet(VerbsCommon.Get, "PuoMigrationVersion")]
[OutputType(typeof(MigrationVersion))]
public sealed class GetPuoMigrationVersionCommand : PuoCmdlet
{
    protected override void Process() => WriteObject(Await(MigrationService.GetVersionAsync(Context)));
}
