using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

[Cmdlet(VerbsDiagnostic.Test, "PuoRedis")]
[OutputType(typeof(RedisHealth), typeof(bool))]
public sealed class TestPuoRedisCommand : PuoCmdlet
{
    /// <summary>Return only $true (OK) or $false, like checking redis-cli ping for PONG.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void Process()
    {
        var health = Await(RedisHealthService.TestAsync(Context));
        WriteObject(Quiet ? health.Status == Status.OK : health);
    }
}
