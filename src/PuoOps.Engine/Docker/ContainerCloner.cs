using System.Globalization;
using Docker.DotNet.Models;

namespace PuoOps.Engine.Docker;

/// <summary>New replicas of a compose service, made as docker compose up --scale makes them.</summary>
internal static class ContainerCloner
{
    /// <summary>
    /// A new replica made from <paramref name="template"/>'s configuration, as docker compose up --scale would:
    /// same image, command, environment, host config and labels, the next container-number, the compose name.
    /// A replica that fails to start is removed again, so a failed scale leaves nothing behind.
    /// </summary>
    public static async Task<string> CloneAsync(OperationContext ctx, ServiceTarget target, ContainerInspectResponse template, int number)
    {
        var name = $"{target.Project}-{target.Service}-{number}";
        var config = template.Config ?? throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.IncompleteAnswer",
            $"Docker at {ctx.Environment.DockerHost} described {template.Name.TrimStart('/')} without its configuration, so it cannot be cloned; nothing was created.", target.Service);
        var labels = new Dictionary<string, string>(config.Labels ?? new Dictionary<string, string>())
        {
            [ContainerService.NumberLabel] = number.ToString(CultureInfo.InvariantCulture),
        };
        var parameters = new CreateContainerParameters(config)
        {
            Name = name,
            Hostname = "", // the template's is its own container id; empty lets the daemon name the clone
            Labels = labels,
            HostConfig = template.HostConfig,
        };
        var network = template.HostConfig?.NetworkMode;
        if (network is { Length: > 0 } && network is not ("host" or "none" or "bridge" or "default") && !network.StartsWith("container:", StringComparison.Ordinal))
            parameters.NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [network] = new() { Aliases = [target.Service] } },
            };
        ctx.Log($"Creating {name} from {template.Name.TrimStart('/')}.");
        var created = await DockerConnections.CallAsync(ctx, "Creating the container", name,
            (client, token) => client.Containers.CreateContainerAsync(parameters, token)).ConfigureAwait(false);
        try
        {
            await DockerConnections.CallAsync(ctx, "Starting the container", name,
                (client, token) => client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), token)).ConfigureAwait(false);
        }
        catch
        {
            await DockerConnections.CallAsync(ctx, "Removing the container that failed to start", name,
                (client, token) => client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, token)).ConfigureAwait(false);
            throw;
        }
        return name;
    }
}
