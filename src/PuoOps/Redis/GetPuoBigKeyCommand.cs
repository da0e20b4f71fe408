using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

/// <summary>The keys using the most memory, biggest first (redis-cli --memkeys); -First says how many (default 10).</summary>
[Cmdlet(VerbsCommon.Get, "PuoBigKey", SupportsPaging = true)]
[OutputType(typeof(CacheKey))]
public sealed class GetPuoBigKeyCommand : PuoCmdlet
{
    private const int DefaultFirst = 10;

    /// <summary>A Redis glob the server matches (SCAN MATCH), not a PowerShell wildcard.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Pattern { get; set; } = "*";

    /// <summary>Measure only this many keys (in SCAN order, a sample of the keyspace) instead of all.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? SampleSize { get; set; }

    // It reads every key's type and size, so its rows show as Get-PuoCacheKey -Detailed shows them.
    protected override void Begin() => RowView = "Detailed";

    protected override void Process()
    {
        var top = (int)Math.Min(int.MaxValue, (FirstRequested ?? DefaultFirst) + SkipRequested);
        var biggest = Await(RedisKeyService.GetBiggestAsync(Context, Pattern, top, SampleSize));
        WriteRows(FirstRequested is null ? biggest.Skip((int)Math.Min(SkipRequested, int.MaxValue)) : biggest);
    }
}
