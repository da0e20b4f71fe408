using System.Management.Automation;
using PuoOps.Engine.Deployment;

namespace PuoOps.Commands.Deployment;

/// <summary>Where nginx sends traffic now: the active colour, each colour's backends and health, the nginx processes, the last switch.</summary>
[Cmdlet(VerbsCommon.Get, "PuoTrafficState")]
[OutputType(typeof(TrafficState))]
public sealed class GetPuoTrafficStateCommand : PuoCmdlet
{
    protected override void Process() => WriteObject(Await(TrafficService.GetStateAsync(Context)));
}
