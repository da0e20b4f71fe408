using Npgsql;
using PuoOps.Engine;
using PuoOps.Engine.Environments;
using PuoOps.Engine.Postgres;
using PuoOps.Tests.Backup;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Postgres;

/// <summary>
/// The session survives what ends its pooled PostgreSQL connections: the module's own restore swap,
/// migration restore and Stop-PuoQuery -Terminate clear the environment's pool; a pooled connection found
/// broken is replaced and a read retried once; a change is never retried.
/// </summary>
public sealed class PostgresReconnectTests
{
    /// <summary>An environment whose pooled sessions carry an application_name of their own, so a test can find exactly them.</summary>
    private static (PuoEnvironment Environment, string Application) PrivateEnvironment(string? connectionString = null)
    {
        var application = "xunit-pool-" + Guid.NewGuid().ToString("N")[..8];
        var builder = new NpgsqlConnectionStringBuilder(connectionString ?? Sandbox.Current.PostgresConnectionString) { ApplicationName = application, Pooling = true };
        return (PuoEnvironment.Create(new EnvironmentSettings { Name = application, PostgresConnectionString = builder.ConnectionString }), application);
    }

    /// <summary>Opens a connection of the environment's pool, notes its backend and gives it back: it now idles in the pool.</summary>
    private static async Task<int> PooledBackendAsync(OperationContext ctx)
    {
        await using var connection = await PostgresConnections.OpenAsync(ctx);
        return connection.ProcessID;
    }

    [Fact]
    public async Task A_read_on_a_pooled_connection_terminated_from_outside_is_retried_once_on_a_fresh_one()
    {
        var (env, _) = PrivateEnvironment();
        using var _env = env;
        var verbose = new List<string>();
        var ctx = new OperationContext(env, TimeSpan.FromSeconds(15), default, verbose: line => { lock (verbose) verbose.Add(line); });
        var pooled = await PooledBackendAsync(ctx);
        await SandboxPostgres.TerminateAsync(pooled);
        await using var slow = await SlowSession.StartAsync("SELECT pg_sleep(60) /* after-terminate */");

        var found = new List<SlowQuery>();
        await foreach (var query in PostgresActivityService.GetSlowQueriesAsync(ctx, TimeSpan.Zero, false))
            found.Add(query);

        Assert.Contains(found, q => q.Pid == slow.Pid);
        Assert.Single(verbose, line => line.Contains("retrying", StringComparison.Ordinal));
        Assert.NotEqual(pooled, await PooledBackendAsync(ctx));
    }

    [Fact]
    public async Task A_VACUUM_whose_session_is_terminated_fails_with_a_clear_error_and_is_not_run_again()
    {
        await using var scratch = await Scratch.CreateAsync(100);
        var (env, application) = PrivateEnvironment();
        env.Dispose();
        using var host = new ModuleHost(connectSandbox: false);
        var vars = new Dictionary<string, object?>
        {
            ["cs"] = new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { ApplicationName = application }.ConnectionString,
            ["t"] = scratch.Name,
        };
        host.Invoke("$null = Connect-PuoEnvironment -Name lost -PostgresConnectionString $cs -SkipCheck", vars).ThrowIfFailed();
        // Another session holds the table, so VACUUM FULL waits for its lock until its session is terminated under it.
        await using var holder = await SlowSession.StartAsync($"BEGIN; LOCK TABLE {scratch.Name} IN ACCESS EXCLUSIVE MODE;");
        var (shell, pending) = host.Start($"Invoke-PuoVacuum -Table {scratch.Name} -Full -Force -LockTimeout 00:02:00 -Confirm:$false");
        using var _shell = shell;
        var vacuum = await WaitForBackendAsync(application, "VACUUM%");

        await SandboxPostgres.TerminateAsync(vacuum);
        Assert.True(pending.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(30)), "Invoke-PuoVacuum did not return after its session was terminated.");
        shell.EndInvoke(pending);

        // A retry would wait for the lock again (the holder still has it) and end in a lock timeout instead.
        var error = Assert.Single(shell.Streams.Error);
        Assert.StartsWith("PuoOps.Postgres.ConnectionLost", error.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.Contains("57P01", error.Exception.Message);
        Assert.Contains("never retried", error.Exception.Message);
        Assert.Equal("idle in transaction", await scratch.ScalarAsync<string>($"SELECT state FROM pg_stat_activity WHERE pid = {holder.Pid}"));
    }

    /// <summary>Waits (bounded) for a session of <paramref name="application"/> running a statement LIKE <paramref name="query"/>.</summary>
    private static async Task<int> WaitForBackendAsync(string application, string query)
    {
        await using var probe = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { Pooling = false }.ConnectionString);
        await probe.OpenAsync();
        for (var i = 0; i < 200; i++)
        {
            await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE application_name = @app AND query LIKE @query AND state = 'active'", probe);
            command.Parameters.AddWithValue("app", application);
            command.Parameters.AddWithValue("query", query);
            if (await command.ExecuteScalarAsync() is int pid)
                return pid;
            await Task.Delay(100);
        }
        throw new TimeoutException($"No session of {application} ran {query}.");
    }

    [Fact]
    public async Task Terminating_a_backend_with_Stop_PuoQuery_clears_the_environments_pool()
    {
        var (env, application) = PrivateEnvironment();
        using var _env = env;
        var ctx = TestEnvironments.Context(env);
        await using var busy = await PostgresConnections.OpenAsync(ctx);
        // Two more sessions of the pool, idle once given back.
        await using (await PostgresConnections.OpenAsync(ctx))
        await using (await PostgresConnections.OpenAsync(ctx))
        {
        }
        Assert.Equal(3, (await SandboxPostgres.BackendsAsync("puo_memo", application)).Count);

        Assert.True(await PostgresActivityService.SignalAsync(ctx, busy.ProcessID, terminate: true, null));

        // The idle sessions were closed, and the one Stop used is closed when it comes back: none is handed out again.
        var left = await SandboxPostgres.BackendsAsync("puo_memo", application);
        for (var i = 0; i < 100 && left.Count > 0; i++)
        {
            await Task.Delay(100);
            left = await SandboxPostgres.BackendsAsync("puo_memo", application);
        }
        Assert.Empty(left);
    }

    [Fact]
    public async Task Restore_then_migrate_in_one_runspace_and_a_migration_that_restores_then_another()
    {
        await using var db = await ScratchDatabase.CreateAsync(1_000);
        using var host = new ModuleHost();
        // Pooled, as an operator's environment is (the scratch database's own string turns pooling off).
        var pooled = new NpgsqlConnectionStringBuilder(db.ConnectionString) { Pooling = true }.ConnectionString;
        var vars = new Dictionary<string, object?> { ["n"] = db.Name, ["cs"] = pooled, ["dir"] = db.Directory };
        host.Invoke("$null = Connect-PuoEnvironment -Name $n -PostgresConnectionString $cs -SkipCheck -NoDefault", vars).ThrowIfFailed();
        host.Invoke("$null = Backup-PuoDatabase -Path $dir -Environment $n", vars).ThrowIfFailed();
        Assert.Equal(ScratchDatabase.Alembic, Assert.Single(host.Invoke("(Get-PuoMigrationVersion -Environment $n).Version", vars).ThrowIfFailed().Output).BaseObject);

        host.Invoke("$null = Restore-PuoBackup -Path $dir -Latest -Environment $n -Confirm:$false", vars).ThrowIfFailed();
        vars["cmd"] = "psql -X -q -c \"UPDATE alembic_version SET version_num = 'feed00000001'\"";
        var migrated = Assert.Single(host.Invoke("Invoke-PuoMigration -BackupPath $dir -Command $cmd -ExpectedVersion feed00000001 -Environment $n -Confirm:$false",
            vars).ThrowIfFailed().Output);
        Assert.Equal(true, migrated.Properties["Succeeded"].Value);

        // A failed migration restores its backup (a second swap); the next one in the same runspace still works.
        vars["cmd"] = "psql -X -q -c \"UPDATE alembic_version SET version_num = 'bad000000002'\"";
        var failed = host.Invoke("Invoke-PuoMigration -BackupPath $dir -Command $cmd -ExpectedVersion bad000000002 -Environment $n " +
                                 "-SmokeTest { $false } -RestoreOnFailure -Confirm:$false", vars);
        Assert.Equal(true, Assert.Single(failed.Output).Properties["Restored"].Value);
        vars["cmd"] = "psql -X -q -c \"UPDATE alembic_version SET version_num = 'feed00000003'\"";
        var again = Assert.Single(host.Invoke("Invoke-PuoMigration -BackupPath $dir -Command $cmd -ExpectedVersion feed00000003 -Environment $n -Confirm:$false",
            vars).ThrowIfFailed().Output);
        Assert.Equal(true, again.Properties["Succeeded"].Value);
        Assert.Equal("feed00000003", await db.ScalarAsync("SELECT version_num FROM alembic_version"));
    }
}

/// <summary>A restart of the shared sandbox server, between two cmdlet calls of one runspace.</summary>
[Collection(ServerRestartCollection.Name)]
public sealed class PostgresServerRestartTests
{
    [Fact]
    public async Task Get_PuoSlowQuery_works_in_the_same_runspace_after_pg_ctl_restart()
    {
        using var host = new ModuleHost();
        await using (var before = await SlowSession.StartAsync("SELECT pg_sleep(60) /* before-restart */"))
        {
            var first = host.Invoke("Get-PuoSlowQuery -MinimumDuration 0").ThrowIfFailed();
            Assert.Contains(first.Output, q => (int)q.Properties["Pid"].Value == before.Pid);
        }

        SandboxPostgres.Restart();
        await using var after = await SlowSession.StartAsync("SELECT pg_sleep(60) /* after-restart */");
        var second = host.Invoke("Get-PuoSlowQuery -MinimumDuration 0 -Verbose").ThrowIfFailed();

        Assert.Contains(second.Output, q => (int)q.Properties["Pid"].Value == after.Pid);
        Assert.Contains(second.Verbose, line => line.Contains("retrying", StringComparison.Ordinal));
    }
}
