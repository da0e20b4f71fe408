using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsCommon.Get, "PuoCacheKey")]
[OutputType(typeof(CacheKey))]
public sealed class GetPuoCacheKeyCommand : PuoCmdlet
{
    /// <summary>A Redis glob (SCAN MATCH): puo:session:*, puo:cache:search:1?.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Pattern { get; set; } = "*";

    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? First { get; set; }

    /// <summary>Also read each key's type, TTL and memory usage (three pipelined commands per key).</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override void Process() => WriteEach(RedisKeyService.GetAsync(Context, Pattern, First, Detailed));
}
