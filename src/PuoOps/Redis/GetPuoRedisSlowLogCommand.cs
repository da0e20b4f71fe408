using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsCommon.Get, "PuoRedisSlowLog", SupportsPaging = true)]
[OutputType(typeof(RedisSlowLogEntry))]
public sealed class GetPuoRedisSlowLogCommand : PuoCmdlet
{
    private const int DefaultFirst = 10;

    /// <summary>Reads the newest entries with SLOWLOG GET n, n being -Skip plus -First (default 10).</summary>
    protected override void Process() =>
        WriteEach(RedisSlowLogService.GetAsync(Context, (int)Math.Min(int.MaxValue, (FirstRequested ?? DefaultFirst) + SkipRequested)));
}
