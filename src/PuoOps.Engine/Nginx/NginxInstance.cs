using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace PuoOps.Engine.Nginx;

/// <summary>
/// The nginx of an environment: its program (Connect-PuoEnvironment -NginxPath, else nginx from PATH) and its main
/// configuration file (-NginxConfig, else the one nginx was built to read, from <c>nginx -V</c>).
/// </summary>
public sealed partial class NginxInstance
{
    /// <summary>Debian installs nginx here; not every user's PATH has /usr/sbin.</summary>
    private const string DebianProgram = "/usr/sbin/nginx";

    private static readonly ConcurrentDictionary<string, Task<NginxBuild>> Builds = new(StringComparer.Ordinal);

    private NginxInstance(string program, string configPath, NginxBuild build)
    {
        Program = program;
        ConfigPath = configPath;
        Build = build;
    }

    /// <summary>The nginx executable.</summary>
    public string Program { get; }

    /// <summary>The full path of the main configuration file.</summary>
    public string ConfigPath { get; }

    /// <summary>The paths compiled into the program.</summary>
    internal NginxBuild Build { get; }

    /// <summary>Finds the environment's nginx program and configuration; NotFound naming what is missing.</summary>
    public static async Task<NginxInstance> ResolveAsync(OperationContext ctx)
    {
        var program = LocateProgram(ctx.Environment);
        var build = await BuildAsync(ctx, program).ConfigureAwait(false);
        var config = Path.GetFullPath(ctx.Environment.NginxConfig ?? build.ConfigPath);
        if (!File.Exists(config))
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Nginx.ConfigNotFound",
                $"The nginx configuration {config} does not exist. Name the running nginx's main file with Connect-PuoEnvironment -NginxConfig.", config);
        return new NginxInstance(program, config, build);
    }

    /// <summary>
    /// The main configuration file without running nginx when the environment names it, else nginx's compiled-in one.
    /// </summary>
    public static async Task<string> ConfigPathAsync(OperationContext ctx) =>
        ctx.Environment.NginxConfig is { } named
            ? Path.GetFullPath(named)
            : (await BuildAsync(ctx, LocateProgram(ctx.Environment)).ConfigureAwait(false)).ConfigPath;

    /// <summary>Connect-PuoEnvironment's check: the named configuration and program exist.</summary>
    public static void Check(PuoEnvironment environment)
    {
        if (environment.NginxConfig is { } config && !File.Exists(config))
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Nginx.ConfigNotFound",
                $"The nginx configuration {config} does not exist. Give the main file of the running nginx (-NginxConfig).", config);
        LocateProgram(environment);
    }

    private static string LocateProgram(PuoEnvironment environment)
    {
        if (environment.NginxPath is { } named)
            return File.Exists(named) ? Path.GetFullPath(named)
                : throw new PuoException(ErrorKind.NotFound, "PuoOps.Nginx.ProgramNotFound",
                    $"The nginx program {named} (-NginxPath) does not exist.", named);
        return ChildProcess.FindInPath("nginx") ?? (File.Exists(DebianProgram) ? DebianProgram
            : throw new PuoException(ErrorKind.NotFound, "PuoOps.Nginx.ProgramNotFound",
                "nginx was not found in PATH or at /usr/sbin/nginx. Install it, or name it with Connect-PuoEnvironment -NginxPath.", "nginx"));
    }

    /// <summary>The paths <c>nginx -V</c> reports (asked once per program).</summary>
    private static async Task<NginxBuild> BuildAsync(OperationContext ctx, string program)
    {
        var task = Builds.GetOrAdd(program, _ => ReadBuildAsync(ctx, program));
        try
        {
            return await task.ConfigureAwait(false);
        }
        catch
        {
            Builds.TryRemove(new KeyValuePair<string, Task<NginxBuild>>(program, task));
            throw;
        }
    }

    private static async Task<NginxBuild> ReadBuildAsync(OperationContext ctx, string program)
    {
        var result = await ChildProcess.RunAsync(ctx, program, ["-V"]).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Nginx.Version", $"{program} -V failed (exit {result.ExitCode}): {result.Message}", program);
        var text = result.StandardError + result.StandardOutput;
        string? Option(string name) => ConfigureOption().Matches(text).FirstOrDefault(m => m.Groups[1].Value == name)?.Groups[2].Value;
        var prefix = Option("prefix") ?? "/usr/local/nginx";
        prefix = prefix.EndsWith('/') ? prefix : prefix + "/";
        return new NginxBuild(prefix, Path.GetFullPath(Path.Combine(prefix, Option("conf-path") ?? "conf/nginx.conf")), Option("error-log-path") ?? "logs/error.log");
    }

    [GeneratedRegex(@"--([a-z-]+)=(\S+)")]
    private static partial Regex ConfigureOption();
}

/// <summary>What nginx was built with: its prefix (ending in /), main configuration file and startup error log.</summary>
internal sealed record NginxBuild(string Prefix, string ConfigPath, string ErrorLog);
