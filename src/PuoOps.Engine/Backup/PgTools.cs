using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Finds Debian's pg_dump/pg_restore for the server's major version and runs them as child processes.
/// The password reaches the child only through its environment (PGPASSWORD), never its command line,
/// and a cancelled run kills the whole process tree.
/// </summary>
internal static class PgTools
{
    /// <summary>Debian keeps one bin folder per major version here (postgresql-client-NN).</summary>
    internal const string DebianRoot = "/usr/lib/postgresql";

    /// <summary>
    /// The tool of the server's major version, else the oldest newer one (pg_dump and pg_restore read
    /// older servers and archives, never newer ones).
    /// </summary>
    public static string Locate(string tool, int serverMajor, string root = DebianRoot)
    {
        var installed = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var major) ? major : -1)
                .Where(major => major > 0 && File.Exists(Path.Combine(root, major.ToString(CultureInfo.InvariantCulture), "bin", tool)))
                .Order()
                .ToList()
            : [];
        var fit = installed.FirstOrDefault(major => major >= serverMajor);
        if (fit > 0)
            return Path.Combine(root, fit.ToString(CultureInfo.InvariantCulture), "bin", tool);
        var found = installed.Count == 0 ? "none is installed" : "installed: " + string.Join(", ", installed);
        throw new PuoException(ErrorKind.NotFound, "PuoOps.Backup.ToolNotFound",
            $"{tool} for PostgreSQL {serverMajor} was not found in {root}/{serverMajor}/bin ({found}; an older {tool} cannot read a newer server). " +
            $"Install it with 'apt-get install postgresql-client-{serverMajor}' (apt.postgresql.org has the versions Debian does not ship).",
            tool);
    }

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
        // sh only redirects the streams and then becomes the program ($0, with its arguments as "$@").
        var start = StartInfo("/bin/sh", ["-c", "exec \"$0\" \"$@\" </dev/null >/dev/null 2>&1", file, .. arguments], environment);
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
