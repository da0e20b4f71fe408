using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>Get-PuoImage: local images, newest first, with the containers created from each.</summary>
public static class ImageService
{
    /// <summary>
    /// The images <paramref name="names"/> select (null or empty: all), newest first. An image matches when one
    /// of its repository:tag names does, or its repository alone ("puo-busybox" matches puo-busybox:latest, as
    /// docker images puo-busybox does), or, for a name without wildcards, its id. A name without wildcards that
    /// matches nothing is NotFound.
    /// </summary>
    public static async Task<IReadOnlyList<DockerImage>> ListAsync(OperationContext ctx, IReadOnlyList<NamePattern>? names)
    {
        var imagesTask = DockerConnections.CallAsync(ctx, "Listing images", null,
            (client, token) => client.Images.ListImagesAsync(new ImagesListParameters { All = false }, token));
        var containersTask = ContainerService.ListRawAsync(ctx, null, null);
        await Task.WhenAll(imagesTask, containersTask).ConfigureAwait(false);
        var usedBy = containersTask.Result.GroupBy(c => c.ImageID)
            .ToDictionary(g => g.Key, g => g.Select(ContainerStatsService.NameOf).OrderBy(n => n, StringComparer.Ordinal).ToArray());
        var all = imagesTask.Result
            .Select(i => new DockerImage
            {
                Environment = ctx.Environment.Name,
                Id = i.ID,
                Tags = (i.RepoTags ?? []).Where(t => t != "<none>:<none>").ToArray(),
                Created = ContainerService.PointInTime(i.Created),
                Size = i.Size,
                Containers = usedBy.TryGetValue(i.ID, out var names) ? names : [],
            })
            .ToList();
        if (names is null || names.Count == 0)
            return all.OrderByDescending(i => i.Created).ToList();
        if (names.FirstOrDefault(n => !n.HasWildcards && !all.Any(i => Matches(i, n))) is { } missing)
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Docker.ImageNotFound",
                $"No image '{missing}' on {ctx.Environment.DockerHost}. List them with Get-PuoImage.", missing.Text);
        return all.Where(i => names.Any(n => Matches(i, n))).OrderByDescending(i => i.Created).ToList();
    }

    private static bool Matches(DockerImage image, NamePattern name) =>
        image.Tags.Any(tag => name.IsMatch(tag) || (tag.LastIndexOf(':') is > 0 and var colon && name.IsMatch(tag[..colon])))
        || (name.Literal is { } id && (image.Id == id || image.Id == "sha256:" + id));
}
