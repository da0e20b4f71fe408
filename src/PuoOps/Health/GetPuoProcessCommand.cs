using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Health;

namespace PuoOps.Commands.Health;

/// <summary>The runbook's "ps aux | sort -nk 6 | tail -20" from /proc, each process with its container and compose service.</summary>
[Cmdlet(VerbsCommon.Get, "PuoProcess", DefaultParameterSetName = TopSet, SupportsPaging = true)]
[OutputType(typeof(ProcessInfo))]
public sealed class GetPuoProcessCommand : PuoCmdlet
{
    private const string TopSet = "Top";
    private const string AllSet = "All";

    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[]? Service { get; set; }

    [Parameter(ParameterSetName = TopSet)]
    [ValidateRange(1, int.MaxValue)]
    public int Top { get; set; } = 20;

    [Parameter(Mandatory = true, ParameterSetName = AllSet)]
    public SwitchParameter All { get; set; }

    /// <summary>Memory or Cpu. A string, not the engine's enum: a value-type field of an engine type would load the engine before ModuleInit can.</summary>
    [Parameter]
    [ValidateSet(nameof(ProcessSort.Memory), nameof(ProcessSort.Cpu), IgnoreCase = true)]
    public string SortBy { get; set; } = nameof(ProcessSort.Memory);

    [Parameter]
    [Duration]
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(1);

    protected override void Begin()
    {
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Top)) && MyInvocation.BoundParameters.ContainsKey("First"))
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Process.TopAndFirst",
                "-Top and -First both say how many processes to return; give one of them.", Top));
    }

    protected override void Process()
    {
        var page = EnginePage(engineCounts: true);
        var query = new ProcessQuery
        {
            Names = Name is null ? null : NamePatterns(Name, nameof(Name)),
            Services = Service is null ? null : NamePatterns(Service, nameof(Service)),
            SortBy = Enum.Parse<ProcessSort>(SortBy, ignoreCase: true),
            Skip = page.Skip,
            Take = MyInvocation.BoundParameters.ContainsKey("First") ? page.First : All ? null : Top,
            SampleInterval = SampleInterval,
        };
        var listing = Await(ProcessService.ListAsync(Context, query));
        foreach (var warning in listing.Warnings)
            WriteWarning(warning);
        WriteRows(listing.Processes);
        SetEngineTotal(listing.TotalCount);
        foreach (var literal in listing.Unmatched)
            WriteItemError(new PuoException(ErrorKind.NotFound, "PuoOps.Process.NotFound",
                $"No process on this machine matches '{literal}' (-Name or -Service). See what runs with Get-PuoProcess -All.", literal));
    }
}
