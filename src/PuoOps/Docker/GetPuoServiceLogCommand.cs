using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>
/// Log lines of a compose or Swarm service (docker compose logs, docker service logs) or of containers
/// (docker logs), one object per line with Time, Container, Stream and Message, written as they are read.
/// -Follow streams until Ctrl+C.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PuoServiceLog", DefaultParameterSetName = ServiceSet, SupportsPaging = true)]
[OutputType(typeof(ServiceLogLine))]
public sealed class GetPuoServiceLogCommand : PuoCmdlet
{
    private const string ServiceSet = "Service";
    private const string ContainerSet = "Container";
    private readonly List<NamePattern> _containers = [];

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ServiceSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[] Service { get; set; } = [];

    /// <summary>The compose project; defaults to the environment's ComposeProject.</summary>
    [Parameter(ParameterSetName = ServiceSet)]
    [ValidateNotNullOrEmpty]
    public string? Project { get; set; }

    /// <summary>Container names (wildcards when typed) or ids; binds the Id of objects from Get-PuoContainer.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ContainerSet, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "ContainerId")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    public string[] Container { get; set; } = [];

    /// <summary>Only the last N lines of each container (default: all).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int? Tail { get; set; }

    /// <summary>Lines written at or after this point in time, or this long ago (-Since 1h).</summary>
    [Parameter]
    [TimeWindow]
    public DateTimeOffset? Since { get; set; }

    /// <summary>Lines written before this point in time, or this long ago (-Until 10m).</summary>
    [Parameter]
    [TimeWindow]
    public DateTimeOffset? Until { get; set; }

    /// <summary>Ask the daemon for each line's time (docker logs -t) and put it in Time.</summary>
    [Parameter]
    public SwitchParameter Timestamps { get; set; }

    /// <summary>Keep streaming new lines until Ctrl+C.</summary>
    [Parameter]
    public SwitchParameter Follow { get; set; }

    private LogOptions Options => new(Tail, Since, Until, Timestamps, Follow);

    protected override void Begin()
    {
        TimeInput.ValidateWindow(Since, Until);
        RowView = Timestamps ? "Timestamps" : null;
    }

    protected override void Process()
    {
        if (ParameterSetName == ContainerSet)
        {
            _containers.AddRange(NamePatterns(Container, nameof(Container))); // read together in End, so -Follow follows all of them
            return;
        }
        var context = Context;
        var project = Project ?? context.Environment.ComposeProject;
        // Resolve every service first, then read them all at once: with -Follow one would otherwise never end.
        var targets = new List<ServiceTarget>();
        ForEachPattern(Service, nameof(Service), pattern => targets.AddRange(Await(ServiceTarget.ResolveAsync(context, project, pattern))));
        WriteEach(ServiceLogService.ReadServicesAsync(context, targets, Options));
    }

    protected override void End()
    {
        if (_containers.Count == 0)
            return;
        var context = Context;
        var ids = new List<string>();
        foreach (var match in Await(ContainerService.SelectAsync(context, _containers)))
        {
            if (match.Error is not null)
                WriteItemError(match.Error, match.Pattern);
            ids.AddRange(match.Ids);
        }
        if (ids.Count > 0)
            WriteEach(ServiceLogService.ReadContainersAsync(context, ids.Distinct().ToList(), Options));
    }
}
