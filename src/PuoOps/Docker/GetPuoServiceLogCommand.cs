using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>
/// Log lines of a compose or Swarm service (docker compose logs, docker service logs) or of containers
/// (docker logs), one object per line with Time, Container, Stream and Message, written as they are read.
/// -Follow streams until Ctrl+C.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PuoServiceLog", DefaultParameterSetName = ServiceSet)]
[OutputType(typeof(ServiceLogLine))]
public sealed class GetPuoServiceLogCommand : PuoCmdlet
{
    private const string ServiceSet = "Service";
    private const string ContainerSet = "Container";
    private readonly List<string> _containers = [];

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ServiceSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[] Service { get; set; } = [];

    /// <summary>The compose project; defaults to the environment's ComposeProject.</summary>
    [Parameter(ParameterSetName = ServiceSet)]
    [ValidateNotNullOrEmpty]
    public string? Project { get; set; }

    /// <summary>Container names or ids; binds the Id of objects from Get-PuoContainer.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ContainerSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "ContainerId")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string[] Container { get; set; } = [];

    /// <summary>Only the last N lines of each container (default: all).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    [Parameter]
    public DateTime? Since { get; set; }

    /// <summary>Ask the daemon for each line's time (docker logs -t) and put it in Time.</summary>
    [Parameter]
    public SwitchParameter Timestamps { get; set; }

    /// <summary>Keep streaming new lines until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    private LogOptions Options => new(Tail, Since is { } since ? new DateTimeOffset(since) : null, Timestamps, Follow);

    protected override void Process()
    {
        if (ParameterSetName == ContainerSet)
        {
            _containers.AddRange(Container); // read together in End, so -Follow follows all of them
            return;
        }
        var context = Context;
        // Resolve every service first, then read them all at once: with -Follow one would otherwise never end.
        var targets = new List<ServiceTarget>();
        ForEachItem(Service, service => targets.Add(Await(ServiceTarget.ResolveAsync(context, Project ?? context.Environment.ComposeProject, service))));
        WriteEach(ServiceLogService.ReadServicesAsync(context, targets, Options));
    }

    protected override void End()
    {
        if (_containers.Count > 0)
            WriteEach(ServiceLogService.ReadContainersAsync(Context, _containers.Distinct().ToList(), Options));
    }
}
