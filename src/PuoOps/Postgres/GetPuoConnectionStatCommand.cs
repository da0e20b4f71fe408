using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

[Cmdlet(VerbsCommon.Get, "PuoConnectionStat")]
[OutputType(typeof(ConnectionStat))]
public sealed class GetPuoConnectionStatCommand : PuoCmdlet
{
    [Parameter]
    [ValidateRange(1, 100)]
    public double WarningPercent { get; set; } = 80;

    [Parameter]
    [ValidateRange(1, 100)]
    public double CriticalPercent { get; set; } = 95;

    protected override void Process() =>
        WriteObject(Await(ConnectionStatService.GetAsync(Context, WarningPercent, CriticalPercent)));
}
