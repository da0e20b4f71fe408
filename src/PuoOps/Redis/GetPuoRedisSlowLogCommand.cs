using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsCommon.Get, "PuoRedisSlowLog")]
[OutputType(typeof(RedisSlowLogEntry))]
public sealed class GetPuoRedisSlowLogCommand : PuoCmdlet
{
    /// <summary>How many of the newest entries to read (SLOWLOG GET n).</summary>
    [Parameter(Position = 0)]
    [ValidateRange(1, 100000)]
    public int First { get; set; } = 10;

    protected override void Process() => WriteEach(RedisSlowLogService.GetAsync(Context, First));
}
