using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>
/// Sets a service's replica count: a Swarm service's spec, waiting until it converged (docker service scale),
/// or for compose clones an existing replica / removes the highest-numbered ones (docker compose up --scale).
/// -Replicas 0 stops and removes every container of the service, as Stop-PuoService does: it needs -Force.
/// </summary>
[Cmdlet(VerbsCommon.Set, "PuoServiceScale", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ServiceScale))]
public sealed class SetPuoServiceScaleCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
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

    /// <summary>Required for -Replicas 0, which takes the whole service down.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Begin()
    {
        ServiceControlService.ValidateWait(WaitTimeout);
        if (Replicas == 0 && !Force && !IsWhatIf)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Docker.ScaleToZeroNeedsForce",
                $"-Replicas 0 stops and removes every container of {(Service.Length > 0 ? Service : "the service")}, so it serves no traffic. Add -Force to do that, " +
                "or use Stop-PuoService to stop it and keep its containers.", Service));
    }

    protected override void Process()
    {
        var context = Context;
        ForEachPattern([Service], nameof(Service), pattern => ForEachItem(Await(ServiceTarget.ResolveAsync(context, Project ?? context.Environment.ComposeProject, pattern)), target =>
        {
            var action = Replicas == 0 ? "Scale to 0 replicas: stop and remove every container" : $"Scale to {Replicas} replica(s)";
            if (!ShouldProcess(target.Description, action))
                return;
            var scale = Await(ServiceScaleService.ScaleAsync(context, target, Replicas, WaitTimeout));
            if (!scale.Converged)
                WriteWarning($"{target.Name} was scaled to {Replicas} but not all replicas were running (and healthy) within -WaitTimeout {Engine.Units.Duration(WaitTimeout)}. Check Get-PuoContainer and Get-PuoServiceLog.");
            WriteObject(scale);
        }));
    }
}
