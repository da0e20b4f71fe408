using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsCommon.Get, "PuoCacheKey", SupportsPaging = true)]
[OutputType(typeof(CacheKey))]
public sealed class GetPuoCacheKeyCommand : PuoCmdlet
{
    /// <summary>A Redis glob the server matches (SCAN MATCH): puo:session:*, puo:cache:search:1?; not a PowerShell wildcard.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Pattern { get; set; } = "*";

    /// <summary>Also read each key's type, TTL and memory usage (three pipelined commands per key).</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override void Begin() => RowView = Detailed ? "Detailed" : null;

    protected override void Process() =>
        WriteEach(RedisKeyService.GetAsync(Context, Pattern, PagingParameters.IncludeTotalCount ? null : FirstRequested + SkipRequested, Detailed));
}
