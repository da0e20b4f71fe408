using Docker.DotNet;

namespace PuoOps.Engine.Docker;

/// <summary>
/// The environment's one DockerClient, created on first use and disposed with the environment. The API
/// version is negotiated, never hard-coded (what broke Microsoft's Docker PowerShell module when daemons
/// moved on): an unversioned GET /version tells the daemon's range (ApiVersion, MinAPIVersion), and the
/// client speaks the newest version both sides support.
/// </summary>
internal static class DockerConnections
{
    /// <summary>The oldest Engine API PuoOps is tested against: Docker 20.10, as the sandbox runs it.</summary>
    public static readonly Version ClientMinApiVersion = new(1, 41);

    /// <summary>The newest Engine API whose models Docker.DotNet.Enhanced 4.3 was generated from (Docker 29.4).</summary>
    public static readonly Version ClientMaxApiVersion = new(1, 54);

    public static Task<DockerClient> ClientAsync(OperationContext ctx)
    {
        var host = ctx.Environment.DockerHost;
        return ctx.Environment.GetClientAsync("docker", async () =>
        {
            // The calls carry their own deadline (OperationContext); a followed log has none.
            var builder = new DockerClientBuilder().WithEndpoint(ParseHost(host)).WithTimeout(Timeout.InfiniteTimeSpan);
            ctx.Log($"Connecting to Docker at {host}.");
            var version = await ctx.WithTimeoutAsync("PuoOps.Docker.Timeout", "Asking the Docker daemon its version", host, async token =>
            {
                using var unversioned = builder.Build();
                return await unversioned.System.GetVersionAsync(token).ConfigureAwait(false);
            }).ConfigureAwait(false);
            var negotiated = Negotiate(version.APIVersion, version.MinAPIVersion, host);
            ctx.Log($"Docker {version.Version} at {host} speaks API {version.MinAPIVersion ?? "?"} to {version.APIVersion}; using {negotiated}.");
            return builder.WithApiVersion(negotiated).Build();
        });
    }

    /// <summary>
    /// The newest version in both ranges: min(daemon's, client's newest). A daemon whose range does not meet the
    /// client's gets an error naming both ranges.
    /// </summary>
    internal static Version Negotiate(string? daemonApiVersion, string? daemonMinApiVersion, string host)
    {
        if (!Version.TryParse(daemonApiVersion, out var daemonMax))
            return ClientMaxApiVersion; // an odd daemon that does not say: try ours and let it answer
        // A daemon that names no minimum accepts every version up to its own.
        var daemonMin = Version.TryParse(daemonMinApiVersion, out var minimum) ? minimum : new Version(1, 0);
        var negotiated = daemonMax < ClientMaxApiVersion ? daemonMax : ClientMaxApiVersion;
        if (negotiated < daemonMin || negotiated < ClientMinApiVersion)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.ApiVersion",
                $"Docker at {host} speaks Engine API {daemonMinApiVersion ?? "?"} to {daemonApiVersion}; PuoOps speaks {ClientMinApiVersion} to {ClientMaxApiVersion}, " +
                (daemonMin > ClientMaxApiVersion ? "so the daemon is newer than PuoOps: update PuoOps." : "so the daemon is older than PuoOps supports: update the Docker Engine."),
                host);
        return negotiated;
    }

    /// <summary>unix:///path, tcp://host:port (http), or a bare socket path; anything else is InvalidArgument.</summary>
    internal static Uri ParseHost(string host)
    {
        if (host.StartsWith('/'))
            host = "unix://" + host;
        if (Uri.TryCreate(host, UriKind.Absolute, out var uri))
        {
            switch (uri.Scheme)
            {
                case "unix" when uri.AbsolutePath.Length > 1:
                case "npipe":
                    return uri;
                case "tcp" or "http" when !string.IsNullOrEmpty(uri.Host):
                    return new UriBuilder("http", uri.Host, uri.IsDefaultPort ? 2375 : uri.Port).Uri;
            }
        }
        throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Docker.Host",
            $"Docker host '{host}' is not a unix:///path/docker.sock or tcp://host:port address. Set DOCKER_HOST or Connect-PuoEnvironment -DockerHost.", host);
    }

    /// <summary>
    /// One Docker call bounded by the context's timeout, with the daemon's and the socket's failures
    /// translated to errors naming the host and <paramref name="target"/>.
    /// </summary>
    public static async Task<T> CallAsync<T>(OperationContext ctx, string what, string? target, Func<DockerClient, CancellationToken, Task<T>> call)
    {
        try
        {
            var client = await ClientAsync(ctx).ConfigureAwait(false);
            return await ctx.WithTimeoutAsync("PuoOps.Docker.Timeout", what, target ?? ctx.Environment.DockerHost,
                token => call(client, token)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not PuoException && !ctx.Cancellation.IsCancellationRequested)
        {
            throw ErrorTranslator.TranslateDocker(ex, ctx.Environment.DockerHost, target);
        }
    }

    public static Task CallAsync(OperationContext ctx, string what, string? target, Func<DockerClient, CancellationToken, Task> call) =>
        CallAsync(ctx, what, target, async (client, token) =>
        {
            await call(client, token).ConfigureAwait(false);
            return true;
        });
}
