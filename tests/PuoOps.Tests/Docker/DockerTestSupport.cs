using System.Diagnostics;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Docker;

/// <summary>
/// A test that needs the sandbox's Docker engine: skipped, with the sandbox's reason, only when it could not start, and
/// never under CI=true, where a service the suite needs must run (the test then fails instead of passing by absence).
/// </summary>
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (System.Environment.GetEnvironmentVariable("CI") != "true"
            && System.Environment.GetEnvironmentVariable("PUO_SANDBOX_STATE") is { Length: > 0 } path && File.Exists(path) && !Sandbox.Current.DockerAvailable)
            Skip = "The sandbox's Docker engine is not available: " +
                   (Sandbox.Current.State.GetProperty("Docker").TryGetProperty("Error", out var e) ? e.GetString() : "unknown reason");
    }
}

/// <summary>
/// A uniquely named compose project on the sandbox's engine: containers labelled exactly as docker compose
/// labels them, created with the docker CLI (what the operator's tooling does), all removed on dispose.
/// </summary>
public sealed class ScratchProject : IDisposable
{
    /// <summary>Logs "&lt;service&gt; out N" on stdout and "&lt;service&gt; err N" on stderr every 200 ms; stops at once on SIGTERM.</summary>
    public const string ChattyScript = """trap "exit 0" TERM; i=0; while true; do echo "$SVC out $i"; echo "$SVC err $i" >&2; i=$((i+1)); sleep 0.2 & wait $!; done""";

    public ScratchProject(string prefix)
    {
        Name = $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
    }

    public string Name { get; }

    public static string Host => Sandbox.Current.DockerHost!;

    /// <summary>Creates and starts replica <paramref name="number"/> of <paramref name="service"/>; returns the container name.</summary>
    public string Add(string service, int number = 1, string script = ChattyScript, bool healthy = true, params string[] extra)
    {
        var name = $"{Name}-{service}-{number}";
        var args = new List<string>
        {
            "run", "-d", "--name", name, "--network", "none", "--stop-timeout", "2", "-e", "SVC=" + service,
            "--label", $"com.docker.compose.project={Name}", "--label", $"com.docker.compose.service={service}",
            "--label", $"com.docker.compose.container-number={number}", "--label", "com.docker.compose.oneoff=False",
        };
        if (healthy)
            args.AddRange(["--health-cmd", "true", "--health-interval", "1s"]);
        args.AddRange(extra);
        args.AddRange([Sandbox.Current.State.GetProperty("Docker").GetProperty("Image").GetString()!, "sh", "-c", script]);
        Docker([.. args]);
        return name;
    }

    /// <summary>Runs the docker CLI against the sandbox engine; throws with its stderr when it fails.</summary>
    public static string Docker(params string[] args)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-H");
        start.ArgumentList.Add(Host);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        start.Environment.Remove("DOCKER_CONTEXT");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("docker " + string.Join(' ', args) + " did not finish in 120 s.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"docker {string.Join(' ', args)} failed: {stderr.Result}");
        return stdout.Result.Trim();
    }

    public static string Inspect(string container, string format) => Docker("inspect", "--format", format, container);

    /// <summary>Polls (bounded) until the container's healthcheck says healthy.</summary>
    public static void WaitHealthy(string container)
    {
        for (var i = 0; i < 100 && Inspect(container, "{{.State.Health.Status}}") != "healthy"; i++)
            Thread.Sleep(200);
    }

    public void Dispose()
    {
        var ids = Docker("ps", "-aq", "--filter", $"label=com.docker.compose.project={Name}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (ids.Length > 0)
            Docker(["rm", "-f", .. ids]);
    }
}
