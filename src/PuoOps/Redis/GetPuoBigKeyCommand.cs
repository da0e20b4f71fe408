using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsCommon.Get, "PuoBigKey")]
[OutputType(typeof(CacheKey))]
public sealed class GetPuoBigKeyCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Pattern { get; set; } = "*";

    /// <summary>How many of the biggest keys to return.</summary>
    [Parameter]
    [ValidateRange(1, 10000)]
    public int First { get; set; } = 10;

    /// <summary>Measure only this many keys (in SCAN order, a sample of the keyspace) instead of all.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? SampleSize { get; set; }

    protected override void Process()
    {
        foreach (var key in Await(RedisKeyService.GetBiggestAsync(Context, Pattern, First, SampleSize)))
            WriteObject(key);
    }
}
