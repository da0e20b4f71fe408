using System.ComponentModel;
using System.Diagnostics;

namespace PuoOps.Engine;

/// <summary>What a short child process printed and how it ended.</summary>
public sealed record ChildOutput(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Its error output, else its standard output, trimmed: what to quote in a message.</summary>
    public string Message => (StandardError.Trim() is { Length: > 0 } error ? error : StandardOutput.Trim());
}

/// <summary>
/// Runs short tools (nginx -t, nft, iptables-restore) to their end with arguments passed as a list (no shell), only
/// the allow-listed part of our environment, optional standard input, their output captured, and a deadline: the
/// context's timeout or Ctrl+C kills the process tree, so nothing outlives the call.
/// </summary>
public static class ChildProcess
{
    /// <param name="environment">Variables set for the child on top of those it inherits (<see cref="IsInherited"/>).</param>
    public static async Task<ChildOutput> RunAsync(OperationContext ctx, string file, IEnumerable<string> arguments, string? input = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var key in start.Environment.Keys.Where(k => !IsInherited(k)).ToList())
            start.Environment.Remove(key);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Tool.NotStarted", $"Could not start {file}: {ex.Message}", file, ex);
        }
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        deadline.CancelAfter(ctx.Timeout);
        try
        {
            try
            {
                if (input is not null)
                    await process.StandardInput.WriteAsync(input.AsMemory(), deadline.Token).ConfigureAwait(false);
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // It stopped reading its input (and likely exited): its exit code and message tell why.
            }
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            ctx.Cancellation.ThrowIfCancellationRequested();
            throw new PuoException(ErrorKind.Timeout, "PuoOps.Tool.Timeout",
                $"{Path.GetFileName(file)} did not finish within {ctx.TimeoutSeconds} s and was stopped. Raise -TimeoutSec if it is just slow.", file, ex);
        }
        return new ChildOutput(process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
    }

    /// <summary>
    /// What a child process inherits from ours: only what a program needs to run (search path, home, user,
    /// locale, time zone, temp folder), never the operator's other variables, which may hold secrets of other
    /// systems (cloud keys, REDIS_URL) or redirect the child (PG*, PGSERVICEFILE, a second DATABASE_URL).
    /// </summary>
    public static bool IsInherited(string name) =>
        name is "PATH" or "HOME" or "USER" or "LOGNAME" or "SHELL" or "LANG" or "LANGUAGE" or "TZ" or "TMPDIR"
        || name.StartsWith("LC_", StringComparison.Ordinal);

    /// <summary>The full path of <paramref name="program"/> in PATH, or null.</summary>
    public static string? FindInPath(string program)
    {
        foreach (var directory in (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }
}
