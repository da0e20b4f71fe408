using System.Diagnostics;
using Npgsql;

namespace PuoOps.Tests.Infrastructure;

/// <summary>What tests do to the sandbox's PostgreSQL server from outside the module, as an operator or a DBA would.</summary>
public static class SandboxPostgres
{
    /// <summary>
    /// pg_ctl restart -m fast (as the server's OS user when we are root): every session is terminated with
    /// 57P01 and the server comes back on the same port. Runs in the non-parallel collection only.
    /// </summary>
    public static void Restart()
    {
        var pg = Sandbox.Current.State.GetProperty("Postgres");
        var pgCtl = Path.Combine(pg.GetProperty("BinDir").GetString()!, "pg_ctl");
        // -l: the new postmaster writes to the sandbox's log, never to (and never holding open) our pipes.
        string[] arguments = ["restart", "-m", "fast", "-w", "-t", "60", "-D", pg.GetProperty("DataDir").GetString()!, "-l", pg.GetProperty("LogFile").GetString()!];
        var osUser = pg.GetProperty("OsUser").GetString()!;
        var start = System.Environment.UserName == osUser ? new ProcessStartInfo(pgCtl) : new ProcessStartInfo("runuser") { ArgumentList = { "-u", osUser, "--", pgCtl } };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = "/";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(90_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("pg_ctl restart did not finish in 90 s.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pg_ctl restart failed (exit {process.ExitCode}): {stderr.Result}");
        // The test process's own pooled helper connections (SlowSession, ScratchDatabase) died with the server too.
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>Terminates a backend from a connection of its own (not the module's), and waits until it is gone.</summary>
    public static async Task TerminateAsync(int pid)
    {
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_terminate_backend(@pid, 10000)", admin);
        command.Parameters.AddWithValue("pid", pid);
        if (await command.ExecuteScalarAsync() is not true)
            throw new InvalidOperationException($"Backend {pid} was not there to terminate.");
    }

    /// <summary>The pids of the sessions connected to <paramref name="database"/> with the given application_name.</summary>
    public static async Task<List<int>> BackendsAsync(string database, string application = "PuoOps")
    {
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT pid FROM pg_stat_activity WHERE datname = @db AND application_name = @app AND pid <> pg_backend_pid() ORDER BY pid", admin);
        command.Parameters.AddWithValue("db", database);
        command.Parameters.AddWithValue("app", application);
        var pids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            pids.Add(reader.GetInt32(0));
        return pids;
    }
}

/// <summary>Tests that restart the shared sandbox server: they run alone, after every parallel test.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServerRestartCollection
{
    public const string Name = "Restarts the sandbox server";
}
