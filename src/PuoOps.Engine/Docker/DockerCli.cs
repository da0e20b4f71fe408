using PuoOps.Engine.Environments;

namespace PuoOps.Engine.Docker;

/// <summary>
/// The docker CLI and docker compose, run for what only they do (docker stack deploy, docker compose up), pointed at the
/// environment's engine the way the CLI reads it: DOCKER_HOST, and for a TLS endpoint DOCKER_TLS_VERIFY=1 with
/// DOCKER_CERT_PATH. These come from the environment's settings, never from our process (a named environment may
/// point elsewhere than the operator's DOCKER_HOST).
/// </summary>
internal static class DockerCli
{
    /// <summary>The variables that point the docker CLI at <paramref name="environment"/>'s engine.</summary>
    public static IReadOnlyDictionary<string, string> Variables(PuoEnvironment environment)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal) { ["DOCKER_HOST"] = environment.DockerHost };
        if (environment.DockerCertPath is { } certificates)
        {
            variables["DOCKER_TLS_VERIFY"] = "1";
            variables["DOCKER_CERT_PATH"] = certificates;
        }
        return variables;
    }

    public static Task<ChildOutput> RunAsync(OperationContext ctx, string program, IEnumerable<string> arguments) =>
        ChildProcess.RunAsync(ctx, program, arguments, environment: Variables(ctx.Environment));

    /// <summary>
    /// How to run compose on this host: the docker CLI's compose plugin (<c>docker compose</c>), else a standalone
    /// <c>docker-compose</c>; null when there is neither. Only compose v2 knows <c>up --wait</c>.
    /// </summary>
    public static async Task<ComposeCommand?> FindComposeAsync(OperationContext ctx)
    {
        if (ChildProcess.FindInPath("docker") is { } docker && (await RunAsync(ctx, docker, ["compose", "version"]).ConfigureAwait(false)).ExitCode == 0)
            return new ComposeCommand(docker, ["compose"], CanWait: true);
        if (ChildProcess.FindInPath("docker-compose") is not { } standalone)
            return null;
        var version = await RunAsync(ctx, standalone, ["version", "--short"]).ConfigureAwait(false);
        return new ComposeCommand(standalone, [], CanWait: version.ExitCode == 0 && !version.StandardOutput.TrimStart('v', ' ').StartsWith('1'));
    }
}

/// <summary>A compose program and the arguments that come before its own (<c>compose</c> for the plugin).</summary>
internal sealed record ComposeCommand(string Program, IReadOnlyList<string> Prefix, bool CanWait)
{
    /// <summary><c>[docker compose | docker-compose] -p &lt;project&gt; -f &lt;file&gt; up -d [--wait]</c>.</summary>
    public IReadOnlyList<string> Up(string project, string composeFile) =>
        [.. Prefix, "-p", project, "-f", composeFile, "up", "-d", .. CanWait ? new[] { "--wait" } : []];

    public override string ToString() => string.Join(' ', [Path.GetFileName(Program), .. Prefix]);
}
