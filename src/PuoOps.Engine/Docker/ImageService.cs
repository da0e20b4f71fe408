using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>Get-PuoImage: local images, newest first, with the containers created from each.</summary>
public static class ImageService
{
    /// <summary>Images whose tag matches <paramref name="match"/> (null: all), newest first.</summary>
    public static async Task<IReadOnlyList<DockerImage>> ListAsync(OperationContext ctx, Func<string, bool>? match)
    {
        var imagesTask = DockerConnections.CallAsync(ctx, "Listing images", null,
            (client, token) => client.Images.ListImagesAsync(new ImagesListParameters { All = false }, token));
        var containersTask = ContainerService.ListRawAsync(ctx, null, null);
        await Task.WhenAll(imagesTask, containersTask).ConfigureAwait(false);
        var usedBy = containersTask.Result.GroupBy(c => c.ImageID)
            .ToDictionary(g => g.Key, g => g.Select(ContainerStatsService.NameOf).OrderBy(n => n, StringComparer.Ordinal).ToArray());
        return imagesTask.Result
            .Select(i => new DockerImage
            {
                Environment = ctx.Environment.Name,
                Id = i.ID,
                Tags = (i.RepoTags ?? []).Where(t => t != "<none>:<none>").ToArray(),
                Created = i.Created,
                Size = i.Size,
                Containers = usedBy.TryGetValue(i.ID, out var names) ? names : [],
            })
            .Where(i => match is null || i.Tags.Any(match) || match(i.Id))
            .OrderByDescending(i => i.Created)
            .ToList();
    }
}
