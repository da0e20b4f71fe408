using System.Management.Automation;
using PuoOps.Engine.Docker;

namespace PuoOps.Commands.Docker;

/// <summary>Local images, newest first, with the containers that use each (docker images, plus who uses them).</summary>
[Cmdlet(VerbsCommon.Get, "PuoImage")]
[OutputType(typeof(DockerImage))]
public sealed class GetPuoImageCommand : PuoCmdlet
{
    /// <summary>repository:tag wildcards (puo-*); an image matches when any of its tags does.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    protected override void Process()
    {
        var patterns = Name?.Select(n => WildcardPattern.Get(n, WildcardOptions.IgnoreCase)).ToList();
        // "puo-busybox" matches puo-busybox:latest, as docker images puo-busybox does.
        Func<string, bool>? match = patterns is null ? null
            : tag => patterns.Any(p => p.IsMatch(tag) || (tag.LastIndexOf(':') is > 0 and var colon && p.IsMatch(tag[..colon])));
        foreach (var image in Await(ImageService.ListAsync(Context, match)))
            WriteObject(image);
    }
}
