using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>
/// What Restart-, Stop- and Start-PuoService share: the -Service/-Project parameters (bound by name from
/// Get-PuoContainer, each service acted on once however many of its containers are piped), ShouldProcess
/// once per service, and -Wait. The work itself is <see cref="ServiceControlService.ApplyAsync"/>.
/// </summary>
public abstract class ServiceCommandBase : PuoCmdlet
{
    private readonly HashSet<string> _done = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Compose service names (all their containers) or Swarm service names.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[] Service { get; set; } = [];

    /// <summary>The compose project; defaults to the environment's ComposeProject.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Project { get; set; }

    protected abstract ServiceAction Action { get; }

    protected abstract bool ShouldWait { get; }

    protected override void Process() => ForEachItem(Service, service =>
    {
        var context = Context;
        var project = Project ?? context.Environment.ComposeProject;
        if (!_done.Add(project + "/" + service))
            return;
        var target = Await(ServiceTarget.ResolveAsync(context, project, service));
        if (!ShouldProcess(target.Description, $"{Action} {target.Kind.ToLowerInvariant()} service"))
            return;
        foreach (var change in Await(ServiceControlService.ApplyAsync(context, target, Action, ShouldWait)))
            WriteObject(change);
    });
}
