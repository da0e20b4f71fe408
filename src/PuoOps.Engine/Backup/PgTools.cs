using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Finds pg_dump, pg_restore and psql (-PgBinPath, then PATH, then the folders distributions install them in)
/// and runs them as child processes. The password reaches the child only through its environment
/// (PGPASSWORD), never its command line, and a cancelled run kills the whole process tree.
/// </summary>
internal static partial class PgTools
{
    /// <summary>
    /// Where distributions keep one bin folder per major version ({0}): Debian and Ubuntu, the PGDG packages of
    /// Red Hat and its kin, Homebrew on Apple silicon and on Intel, the EDB installer on Windows.
    /// </summary>
    internal static readonly IReadOnlyList<string> DistributionFolders = OperatingSystem.IsWindows()
        ? [@"C:\Program Files\PostgreSQL\{0}\bin"]
        : ["/usr/lib/postgresql/{0}/bin", "/usr/pgsql-{0}/bin", "/opt/homebrew/opt/postgresql@{0}/bin", "/usr/local/opt/postgresql@{0}/bin"];

    private static readonly ConcurrentDictionary<string, int> Versions = new(StringComparer.Ordinal);

    /// <summary>
    /// The tool for a server of <paramref name="serverMajor"/>: the one in <paramref name="pgBinPath"/> when given;
    /// else the first on PATH that is at least that version; else, of the distributions' folders, the one of that
    /// version or the oldest newer one (pg_dump and pg_restore read older servers and archives, never newer ones).
    /// </summary>
    public static string Locate(string tool, int serverMajor, string? pgBinPath) =>
        Locate(tool, serverMajor, pgBinPath,
            (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries), DistributionFolders);

    internal static string Locate(string tool, int serverMajor, string? pgBinPath, IReadOnlyList<string> pathFolders, IReadOnlyList<string> distributionFolders)
    {
        var file = OperatingSystem.IsWindows() ? tool + ".exe" : tool;
        if (!string.IsNullOrEmpty(pgBinPath))
        {
            var given = Path.Combine(pgBinPath, file);
            if (!File.Exists(given))
                throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.ToolNotFound", $"-PgBinPath '{pgBinPath}' has no {file}.", pgBinPath);
            var major = VersionOf(given);
            if (major < serverMajor)
                throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Backup.ToolTooOld",
                    $"{given} is from PostgreSQL {major}; it cannot read a PostgreSQL {serverMajor} server or archive. Give -PgBinPath the bin folder of version {serverMajor} or later.", pgBinPath);
            return given;
        }
        var seen = new List<string>();
        foreach (var folder in pathFolders)
        {
            var candidate = Path.Combine(folder, file);
            if (!File.Exists(candidate) || IsDebianWrapper(candidate))
                continue;
            var major = VersionOf(candidate);
            if (major >= serverMajor)
                return candidate;
            seen.Add($"{candidate} ({(major > 0 ? major.ToString(CultureInfo.InvariantCulture) : "version unknown")})");
        }
        var installed = distributionFolders.SelectMany(pattern => VersionFolders(pattern, file)).OrderBy(v => v.Major).ToList();
        if (installed.FirstOrDefault(v => v.Major >= serverMajor) is { Path: not null } fit)
            return fit.Path;
        seen.AddRange(installed.Select(v => $"{v.Path} ({v.Major})"));
        throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.ToolNotFound",
            $"No {tool} for PostgreSQL {serverMajor} or later on PATH or in {string.Join(", ", distributionFolders.Select(f => string.Format(CultureInfo.InvariantCulture, f, serverMajor)))} " +
            $"({(seen.Count == 0 ? "none found" : "found: " + string.Join(", ", seen))}; an older {tool} cannot read a newer server). " +
            $"Install it (Debian: apt-get install postgresql-client-{serverMajor}; apt.postgresql.org has the versions a distribution does not ship), or give -PgBinPath.",
            tool);
    }

    /// <summary>
    /// Debian's /usr/bin/pg_dump and friends are links to pg_wrapper, a Perl script that picks one of the
    /// distribution's folders and runs the tool from there; going to that folder directly (next) skips its start-up.
    /// </summary>
    private static bool IsDebianWrapper(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.Name == "pg_wrapper";

    /// <summary>The tool in each folder a pattern such as /usr/lib/postgresql/{0}/bin names, with the version its name says.</summary>
    private static IEnumerable<(string Path, int Major)> VersionFolders(string pattern, string file)
    {
        var at = pattern.IndexOf("{0}", StringComparison.Ordinal);
        var (parent, stem, rest) = (Path.GetDirectoryName(pattern[..at] + "x")!, Path.GetFileName(pattern[..at] + "x")[..^1], pattern[(at + 3)..]);
        if (!Directory.Exists(parent))
            yield break;
        foreach (var folder in Directory.EnumerateDirectories(parent, stem + "*"))
        {
            var name = Path.GetFileName(folder);
            var candidate = folder + rest + Path.DirectorySeparatorChar + file;
            if (int.TryParse(name[stem.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var major) && File.Exists(candidate))
                yield return (candidate, major);
        }
    }

    /// <summary>The major version a tool reports (<c>pg_dump (PostgreSQL) 16.4</c>), 0 when it says none; asked once per path.</summary>
    private static int VersionOf(string tool) => Versions.GetOrAdd(tool, path =>
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(path, "--version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(10_000))
            {
                process.Kill(entireProcessTree: true);
                return 0;
            }
            return ReportedVersion().Match(output.Result) is { Success: true } match
                ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 0;
        }
    });

    [GeneratedRegex(@"\(PostgreSQL\) (\d+)")]
    private static partial Regex ReportedVersion();

    /// <summary>
    /// The --dbname argument of pg_dump, pg_restore and psql: always a dbname= connection string with the name
    /// quoted, because libpq reads a bare name holding '=' (or starting with postgres://) as a connection string,
    /// and a manifest's "host=elsewhere" would otherwise send the password there.
    /// </summary>
    public static string DatabaseArgument(string database) =>
        "dbname='" + database.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <summary>
    /// The libpq environment for a child process: host, port, user and password of the environment's endpoint,
    /// and its TLS settings (sslmode and the certificate files), so the child verifies the server as we do.
    /// </summary>
    public static Dictionary<string, string?> Environment(PostgresEndpoint endpoint, OperationContext ctx, string application)
    {
        var builder = new NpgsqlConnectionStringBuilder(endpoint.ConnectionString);
        var env = new Dictionary<string, string?>
        {
            ["PGHOST"] = builder.Host,
            ["PGPORT"] = builder.Port.ToString(CultureInfo.InvariantCulture),
            ["PGUSER"] = builder.Username,
            ["PGPASSWORD"] = builder.Password,
            ["PGAPPNAME"] = application,
            ["PGCONNECT_TIMEOUT"] = ctx.TimeoutSeconds.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, value) in LibpqSsl(builder))
            env["PG" + name.ToUpperInvariant()] = value;
        return env;
    }

    /// <summary>The libpq TLS parameters (sslmode, sslrootcert, sslcert, sslkey) of a connection, as libpq names them.</summary>
    public static IEnumerable<(string Name, string Value)> LibpqSsl(NpgsqlConnectionStringBuilder builder)
    {
        yield return ("sslmode", PostgresEndpoint.LibpqSslMode(builder.SslMode));
        if (!string.IsNullOrEmpty(builder.RootCertificate))
            yield return ("sslrootcert", builder.RootCertificate);
        if (!string.IsNullOrEmpty(builder.SslCertificate))
            yield return ("sslcert", builder.SslCertificate);
        if (!string.IsNullOrEmpty(builder.SslKey))
            yield return ("sslkey", builder.SslKey);
    }

    /// <summary>
    /// Runs a program to its end, handing each output line to <paramref name="onLine"/> (true = stderr).
    /// With <paramref name="readOutput"/>, stdout is binary data instead: that callback reads it to its
    /// end on a thread of its own (stderr still goes to <paramref name="onLine"/>); if it throws, the
    /// process is killed and its exception is rethrown. Cancellation kills the process tree and waits
    /// for it (and for <paramref name="readOutput"/>), so nothing outlives the call.
    /// </summary>
    public static async Task<ChildResult> RunAsync(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment,
        string? workingDirectory, Action<string, bool>? onLine, CancellationToken cancellation, Action<Stream>? readOutput = null)
    {
        var start = StartInfo(file, arguments, environment);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        start.WorkingDirectory = workingDirectory ?? "";

        var errorTail = new Queue<string>();
        using var process = new Process { StartInfo = start };
        void Handle(string? line, bool isError)
        {
            if (line is null)
                return;
            if (isError)
                lock (errorTail)
                {
                    errorTail.Enqueue(line);
                    if (errorTail.Count > 15)
                        errorTail.Dequeue();
                }
            onLine?.Invoke(line, isError);
        }
        process.OutputDataReceived += (_, e) => Handle(e.Data, false);
        process.ErrorDataReceived += (_, e) => Handle(e.Data, true);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.ToolNotStarted", $"Could not start {file}: {ex.Message}", file, ex);
        }
        process.StandardInput.Close();
        Task? reading = null;
        if (readOutput is null)
            process.BeginOutputReadLine();
        else
            reading = Task.Factory.StartNew(() => readOutput(process.StandardOutput.BaseStream), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        process.BeginErrorReadLine();
        try
        {
            var exited = process.WaitForExitAsync(cancellation);
            if (reading is not null)
            {
                await Task.WhenAny(exited, reading).ConfigureAwait(false);
                if (reading.IsFaulted)
                    Kill(process); // e.g. a full disk: the child would block on a pipe nobody reads
                else if (!exited.IsCompletedSuccessfully)
                    await exited.ConfigureAwait(false); // the output ended first: wait for the exit (or Ctrl+C)
                // Once the child has exited or was killed, the pipe reaches its end and the reader returns.
                await reading.ConfigureAwait(false);
            }
            await exited.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            if (reading is not null)
                await reading.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            throw;
        }
        // WaitForExitAsync also waits for the output streams to reach their end.
        lock (errorTail)
            return new ChildResult(process.ExitCode, string.Join(System.Environment.NewLine, errorTail));
    }

    /// <summary>
    /// Starts a program that is meant to outlive this process if it dies, and is not waited for. Its
    /// standard streams are /dev/null: nothing of it reaches the operator's console, and it does not die
    /// of a broken pipe once this process is gone.
    /// </summary>
    public static void StartDetached(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment)
    {
        // On Unix sh only redirects the streams and then becomes the program ($0, with its arguments as "$@");
        // Windows has no SIGPIPE to fear, and the child runs without a window.
        var start = OperatingSystem.IsWindows()
            ? StartInfo(file, arguments, environment)
            : StartInfo("/bin/sh", ["-c", "exec \"$0\" \"$@\" </dev/null >/dev/null 2>&1", file, .. arguments], environment);
        start.CreateNoWindow = true;
        try
        {
            using var process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.ToolNotStarted", $"Could not start {file}: {ex.Message}", file, ex);
        }
    }

    /// <summary>The program and its arguments, with the allow-listed part of our environment (<see cref="ChildProcess.IsInherited"/>) and the given variables.</summary>
    private static ProcessStartInfo StartInfo(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var key in start.Environment.Keys.Where(k => !ChildProcess.IsInherited(k)).ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        return start;
    }

    private static void Kill(Process process)
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
    }
}

internal sealed record ChildResult(int ExitCode, string ErrorTail);
