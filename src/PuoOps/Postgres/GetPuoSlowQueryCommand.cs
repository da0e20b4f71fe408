using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

[Cmdlet(VerbsCommon.Get, "PuoSlowQuery", SupportsPaging = true)]
[OutputType(typeof(SlowQuery))]
public sealed class GetPuoSlowQueryCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [Duration]
    public TimeSpan MinimumDuration { get; set; } = TimeSpan.FromSeconds(5);

    [Parameter]
    public SwitchParameter IncludeIdleInTransaction { get; set; }

    protected override void Begin()
    {
        if (MinimumDuration < TimeSpan.Zero)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Postgres.MinimumDuration",
                $"-MinimumDuration must not be negative (got {MinimumDuration}).", MinimumDuration));
    }

    protected override void Process() =>
        WriteEach(PostgresActivityService.GetSlowQueriesAsync(Context, MinimumDuration, IncludeIdleInTransaction));
}
