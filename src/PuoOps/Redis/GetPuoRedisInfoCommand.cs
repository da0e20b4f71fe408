using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsCommon.Get, "PuoRedisInfo")]
[OutputType(typeof(RedisInfoSection), typeof(RedisMemoryInfo))]
public sealed class GetPuoRedisInfoCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[] Section { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 100)]
    public double WarningPercent { get; set; } = 80;

    [Parameter]
    [ValidateRange(1, 100)]
    public double CriticalPercent { get; set; } = 95;

    protected override void Process() =>
        WriteEach(RedisInfoService.GetAsync(Context, Section, WarningPercent, CriticalPercent));
}
