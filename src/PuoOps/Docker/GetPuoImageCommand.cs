using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>Local images, newest first, with the containers that use each (docker images, plus who uses them).</summary>
[Cmdlet(VerbsCommon.Get, "PuoImage", SupportsPaging = true)]
[OutputType(typeof(DockerImage))]
public sealed class GetPuoImageCommand : PuoCmdlet
{
    /// <summary>repository:tag patterns (puo-*); an image matches when any of its tags does, or its repository.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    protected override void Process() =>
        WriteRows(Await(ImageService.ListAsync(Context, Name is null ? null : NamePatterns(Name, nameof(Name)))));
}
