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
            var endpoint = Endpoint(host, ctx.Environment.DockerCertPath);
            ctx.Log($"Connecting to Docker at {host}{(endpoint.CertPath is null ? "" : $" over TLS (certificates in {endpoint.CertPath})")}.");
            // The calls carry their own deadline (OperationContext); a followed log has none.
            var builder = new DockerClientBuilder().WithEndpoint(endpoint.Uri).WithTimeout(Timeout.InfiniteTimeSpan);
            if (endpoint.CertPath is not null)
                builder = builder.WithAuthProvider(DockerTls.Credentials(endpoint.CertPath));
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

    /// <summary>Where and how the Docker API is reached, and what is insecure about it.</summary>
    internal sealed record DockerEndpoint(Uri Uri, string? CertPath, string? SecurityWarning);

    /// <summary>
    /// The endpoint of <paramref name="host"/>: with <paramref name="certPath"/>, TLS with that folder's client
    /// certificate to a daemon its ca.pem signed (a tcp:// host only). A plain tcp:// host that is not this machine
    /// is allowed but warned about: the Docker API is root on its host, and plain HTTP lets anyone on the way drive it.
    /// </summary>
    /// <summary>The API's list filter for objects carrying <paramref name="label"/> (<c>name</c> or <c>name=value</c>).</summary>
    internal static IDictionary<string, IDictionary<string, bool>> LabelFilter(string label) =>
        new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [label] = true } };

    internal static DockerEndpoint Endpoint(string host, string? certPath)
    {
        var uri = ParseHost(host, tls: certPath is not null);
        if (certPath is null)
            return new DockerEndpoint(uri, null, uri.Scheme == "http" && !TransportSecurity.IsLocal(uri.Host)
                ? $"Docker at {host} is not on this machine and is reached over plain HTTP: anyone on the way can read and drive its API, which is root on that host. " +
                  "Use TLS: Connect-PuoEnvironment -DockerCertPath <folder with ca.pem, cert.pem, key.pem> (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH for the implicit default)."
                : null);
        if (uri.Scheme != "https")
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Docker.CertPath",
                $"-DockerCertPath applies to a tcp:// or https:// Docker host, not {host}.", host);
        DockerTls.RequireFiles(certPath);
        return new DockerEndpoint(uri, certPath, null);
    }

    /// <summary>
    /// unix:///path (or a bare socket path), npipe:// on Windows, tcp://host:port (plain http, or https with
    /// <paramref name="tls"/>) or https://host:port; any other scheme, which the client cannot speak, is InvalidArgument.
    /// </summary>
    internal static Uri ParseHost(string host, bool tls = false)
    {
        if (host.StartsWith('/'))
            host = "unix://" + host;
        if (Uri.TryCreate(host, UriKind.Absolute, out var uri))
        {
            switch (uri.Scheme)
            {
                case "unix" when uri.AbsolutePath.Length > 1:
                case "npipe" when OperatingSystem.IsWindows():
                    return uri;
                case "tcp" or "http" or "https" when !string.IsNullOrEmpty(uri.Host):
                    var secure = tls || uri.Scheme == "https";
                    return new UriBuilder(secure ? "https" : "http", uri.Host, uri.IsDefaultPort || uri.Port <= 0 ? (secure ? 2376 : 2375) : uri.Port).Uri;
            }
        }
        throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Docker.Host",
            $"Docker host '{host}' is not an address PuoOps can speak: unix:///path/docker.sock, tcp://host:port (with -DockerCertPath for TLS) or https://host:port" +
            (OperatingSystem.IsWindows() ? ", or npipe:////./pipe/docker_engine." : ".") + " Set DOCKER_HOST or Connect-PuoEnvironment -DockerHost.", host);
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
            var failure = ErrorTranslator.TranslateDocker(ex, ctx.Environment.DockerHost, target);
            if (ErrorTranslator.IsSwarmServiceUnavailable(ex) && await NotManagerStateAsync(ctx) is { } nodeState)
                throw ErrorTranslator.NotASwarmManager(ctx.Environment.DockerHost, target, nodeState, ex);
            throw failure;
        }
    }

    /// <summary>
    /// The daemon's own word (/info Swarm.LocalNodeState, ControlAvailable) on why it answered 503 to a Swarm call: the node's swarm
    /// state when it is not a swarm manager, null when it is one (or /info fails too), so the 503 means something else.
    /// </summary>
    private static async Task<string?> NotManagerStateAsync(OperationContext ctx)
    {
        try
        {
            var client = await ClientAsync(ctx).ConfigureAwait(false);
            var info = await ctx.WithTimeoutAsync("PuoOps.Docker.Timeout", "Asking the Docker daemon its swarm state", ctx.Environment.DockerHost,
                token => client.System.GetSystemInfoAsync(token)).ConfigureAwait(false);
            var swarm = info.Swarm;
            return swarm switch
            {
                { LocalNodeState: "active", ControlAvailable: true } => null,
                { LocalNodeState: "active" } => "active, as a worker",
                { LocalNodeState: { Length: > 0 } state } => state,
                _ => "inactive",
            };
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ctx.Cancellation.IsCancellationRequested)
        {
            return null;
        }
    }

    public static Task CallAsync(OperationContext ctx, string what, string? target, Func<DockerClient, CancellationToken, Task> call) =>
        CallAsync(ctx, what, target, async (client, token) =>
        {
            await call(client, token).ConfigureAwait(false);
            return true;
        });
}
