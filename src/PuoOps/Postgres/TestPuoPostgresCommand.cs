using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

[Cmdlet(VerbsDiagnostic.Test, "PuoPostgres")]
[OutputType(typeof(PostgresHealth), typeof(bool))]
public sealed class TestPuoPostgresCommand : PuoCmdlet
{
    /// <summary>Return only $true (OK) or $false, like pg_isready's exit code.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void Process()
    {
        var health = Await(PostgresHealthService.TestAsync(Context));
        WriteObject(Quiet ? health.Status == Status.OK : health);
    }
}
