using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsCommon.Get, "PuoRedisConfig", SupportsPaging = true)]
[OutputType(typeof(RedisConfigSetting))]
public sealed class GetPuoRedisConfigCommand : PuoCmdlet
{
    /// <summary>CONFIG GET patterns, Redis globs the server matches: maxmemory, maxmemory-*, *.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [TextOrProperty(nameof(Name))]
    public string[] Name { get; set; } = ["*"];

    protected override void Process() => WriteEach(RedisConfigService.GetAsync(Context, Name));
}
