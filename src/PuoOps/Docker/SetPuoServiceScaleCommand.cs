using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>
/// Sets a service's replica count: a Swarm service's spec, waiting until it converged (docker service scale),
/// or for compose clones an existing replica / removes the highest-numbered ones (docker compose up --scale).
/// </summary>
[Cmdlet(VerbsCommon.Set, "PuoServiceScale", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ServiceScale))]
public sealed class SetPuoServiceScaleCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string Service { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1)]
    [ValidateRange(0, 100)]
    public int Replicas { get; set; }

    /// <summary>The compose project; defaults to the environment's ComposeProject.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Project { get; set; }

    /// <summary>How long to wait for the new replicas to run and be healthy (Swarm: to converge); then the result says Converged = $false.</summary>
    [Parameter]
    [Duration]
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromMinutes(2);

    protected override void Begin() => ServiceControlService.ValidateWait(WaitTimeout);

    protected override void Process()
    {
        var context = Context;
        ForEachPattern([Service], nameof(Service), pattern => ForEachItem(Await(ServiceTarget.ResolveAsync(context, Project ?? context.Environment.ComposeProject, pattern)), target =>
        {
            if (!ShouldProcess(target.Description, $"Scale to {Replicas} replica(s)"))
                return;
            var scale = Await(ServiceScaleService.ScaleAsync(context, target, Replicas, WaitTimeout));
            if (!scale.Converged)
                WriteWarning($"{target.Name} was scaled to {Replicas} but not all replicas were running (and healthy) within -WaitTimeout {Engine.Units.Duration(WaitTimeout)}. Check Get-PuoContainer and Get-PuoServiceLog.");
            WriteObject(scale);
        }));
    }
}
