using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>The containers of the environment's compose project (or -Project, or -All), like docker compose ps -a.</summary>
[Cmdlet(VerbsCommon.Get, "PuoContainer", DefaultParameterSetName = ProjectSet, SupportsPaging = true)]
[OutputType(typeof(Container))]
public sealed class GetPuoContainerCommand : PuoCmdlet
{
    private const string ProjectSet = "Project";
    private const string AllSet = "All";

    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ServiceNameCompleter))]
    public string[]? Service { get; set; }

    /// <summary>The compose project; defaults to the environment's ComposeProject.</summary>
    [Parameter(ParameterSetName = ProjectSet)]
    [ValidateNotNullOrEmpty]
    public string? Project { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = AllSet)]
    public SwitchParameter All { get; set; }

    protected override void Process()
    {
        var context = Context;
        var project = All ? null : Project ?? context.Environment.ComposeProject;
        WriteRows(Await(ContainerService.ListAsync(context, project, Service is null ? null : NamePatterns(Service, nameof(Service)))));
    }
}
