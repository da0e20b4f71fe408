using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>
/// What Restart-, Stop- and Start-PuoService share: the -Service/-Project parameters (bound by name from
/// Get-PuoContainer, each service acted on once however many of its containers are piped), ShouldProcess
/// once per service, and -Wait with -WaitTimeout. The work itself is <see cref="ServiceControlService.ApplyAsync"/>.
/// </summary>
public abstract class ServiceCommandBase : PuoCmdlet
{
    private readonly HashSet<string> _done = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Compose service names (all their containers) or Swarm service names; wildcards when typed.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    [TextOrProperty(nameof(Service))]
    public string[] Service { get; set; } = [];

    /// <summary>The compose project; defaults to the environment's ComposeProject.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Project { get; set; }

    /// <summary>With -Wait, how long to wait for the service to run and be healthy (or to stop) before a timeout error.</summary>
    [Parameter]
    [Duration]
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromMinutes(2);

    protected abstract ServiceAction Action { get; }

    protected abstract bool ShouldWait { get; }

    protected override void Begin() => ServiceControlService.ValidateWait(WaitTimeout);

    protected override void Process()
    {
        var context = Context;
        var project = Project ?? context.Environment.ComposeProject;
        ForEachPattern(Service, nameof(Service), pattern => ForEachItem(Await(ServiceTarget.ResolveAsync(context, project, pattern)), target =>
        {
            if (!_done.Add(target.Name) || !ShouldProcess(target.Description, $"{Action} {target.Kind.ToLowerInvariant()} service"))
                return;
            WriteRows(Await(ServiceControlService.ApplyAsync(context, target, Action, ShouldWait ? WaitTimeout : null)));
        }));
    }
}
