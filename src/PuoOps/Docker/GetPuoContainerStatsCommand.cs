using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>
/// One sample of CPU, memory, network, block I/O and PIDs per container, like docker stats --no-stream,
/// with a Status against thresholds. Piped containers are collected and sampled together in End, concurrently.
/// </summary>
[Cmdlet(VerbsCommon.Get, "PuoContainerStats", DefaultParameterSetName = ProjectSet, SupportsPaging = true)]
[OutputType(typeof(ContainerStats))]
public sealed class GetPuoContainerStatsCommand : PuoCmdlet
{
    private const string ContainerSet = "Container";
    private const string ProjectSet = "Project";
    private const string AllSet = "All";
    private readonly List<Engine.NamePattern> _containers = [];

    /// <summary>Container names (wildcards when typed) or ids; binds the Id of objects from Get-PuoContainer.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ContainerSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Id", "ContainerId")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ContainerNameCompleter))]
    [TextOrProperty(nameof(Container), "Id", "ContainerId")]
    public string[] Container { get; set; } = [];

    [Parameter(ParameterSetName = ProjectSet)]
    [Parameter(ParameterSetName = AllSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[]? Service { get; set; }

    [Parameter(ParameterSetName = ProjectSet)]
    [ValidateNotNullOrEmpty]
    public string? Project { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = AllSet)]
    public SwitchParameter All { get; set; }

    /// <summary>
    /// Least milliseconds between the two readings CPU % is computed from. The daemon's stats collector reads
    /// containers about once a second, so the window is at least that; each result's SampleWindow is the window measured.
    /// </summary>
    [Parameter]
    [ValidateRange(100, 10000)]
    public int SampleMilliseconds { get; set; } = 500;

    [Parameter]
    [ValidateRange(1, 10000)]
    public double CpuWarningPercent { get; set; } = 70;

    [Parameter]
    [ValidateRange(1, 10000)]
    public double CpuCriticalPercent { get; set; } = 80;

    [Parameter]
    [ValidateRange(1, 100)]
    public double MemoryWarningPercent { get; set; } = 80;

    [Parameter]
    [ValidateRange(1, 100)]
    public double MemoryCriticalPercent { get; set; } = 90;

    protected override void Begin()
    {
        PuoOps.Thresholds.Validate(CpuWarningPercent, CpuCriticalPercent);
        PuoOps.Thresholds.Validate(MemoryWarningPercent, MemoryCriticalPercent);
    }

    protected override void Process() => _containers.AddRange(NamePatterns(Container, nameof(Container)));

    protected override void End()
    {
        if (ParameterSetName == ContainerSet && _containers.Count == 0)
            return;
        var context = Context;
        var project = ParameterSetName == ProjectSet ? Project ?? context.Environment.ComposeProject : null;
        var thresholds = new ContainerStatsService.Thresholds(CpuWarningPercent, CpuCriticalPercent, MemoryWarningPercent, MemoryCriticalPercent);
        var samples = Await(ContainerStatsService.SampleAsync(context, _containers, project, Service is null ? null : NamePatterns(Service, nameof(Service)),
            TimeSpan.FromMilliseconds(SampleMilliseconds), thresholds));
        foreach (var sample in samples)
        {
            if (sample.Error is not null)
                WriteItemError(sample.Error, sample.Target);
            else if (!WriteRow(sample.Stats!))
                return;
        }
    }
}
