using System.Management.Automation;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Postgres;

/// <summary>The maintenance cmdlets of the built module as an operator pipes them, on this test's own scratch tables.</summary>
public sealed class PostgresMaintenanceCmdletTests : IDisposable
{
    // Each ModuleHost runspace has its own environments, with the sandbox as its default.
    private readonly ModuleHost _host = new();

    public void Dispose() => _host.Dispose();

    private static Dictionary<string, object?> Vars(params (string Name, object? Value)[] values) => values.ToDictionary(v => v.Name, v => v.Value);

    [Fact]
    public async Task Unused_index_is_found_and_rebuilt_through_the_pipeline()
    {
        await using var scratch = await Scratch.CreateAsync(3000);
        var t = scratch.Name;
        await scratch.ExecAsync($"CREATE INDEX {t}_unused ON {t} (val); CREATE UNIQUE INDEX {t}_uq ON {t} (note)");
        var oldNode = await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{t}_unused'");

        var result = _host.Invoke("Get-PuoIndexUsage -Table $t -Unused -Force | Invoke-PuoReindex -Confirm:$false", Vars(("t", t))).ThrowIfFailed();
        var rebuilt = Assert.Single(result.Output);
        Assert.Equal("PuoOps.ReindexResult", rebuilt.TypeNames[0]);
        Assert.Equal(t + "_unused", rebuilt.Properties["Index"].Value);
        Assert.True((bool)rebuilt.Properties["Concurrently"].Value);
        Assert.NotEqual(oldNode, await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{t}_unused'"));
    }

    [Fact]
    public void Unused_on_young_statistics_lists_them_with_a_warning_that_says_why()
    {
        var result = _host.Invoke("Get-PuoIndexUsage -Unused");
        Assert.Empty(result.Errors);
        Assert.All(result.Output, row => Assert.Equal(0L, row.Properties["Scans"].Value));
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("may be in use", warning);
        Assert.Contains("-Force", warning);
        Assert.Empty(_host.Invoke("Get-PuoIndexUsage -Unused -Force").Warnings);
    }

    [Fact]
    public async Task Hostile_names_are_object_not_found_and_the_pipeline_goes_on()
    {
        await using var canary = await Scratch.CreateAsync(10, "xunit_canary_");
        var hostile = $"memories\"; DROP TABLE {canary.Name}; --";
        var vars = Vars(("hostile", hostile), ("t", canary.Name));
        foreach (var script in new[]
                 {
                     "Invoke-PuoVacuum -Table $hostile, $t -Confirm:$false",
                     "Invoke-PuoAnalyze -Table $hostile, $t",
                     "Invoke-PuoReindex -Index $hostile, ($t + '_pkey') -Confirm:$false",
                     "Invoke-PuoPrewarm -Table $hostile, $t",
                 })
        {
            var result = _host.Invoke(script, vars);
            var error = Assert.Single(result.Errors);
            Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
            Assert.StartsWith("PuoOps.Postgres.ObjectNotFound", error.FullyQualifiedErrorId);
            Assert.Equal(hostile, error.TargetObject);
            Assert.NotEmpty(result.Output);
            Assert.All(result.Output, o => Assert.Equal(canary.Name, o.Properties["Table"].Value));
        }
        Assert.Equal(10L, await canary.ScalarAsync<long>($"SELECT count(*) FROM {canary.Name}"));
        Assert.True(await canary.ScalarAsync<bool>("SELECT to_regclass('public.memories') IS NOT NULL"));
    }

    [Fact]
    public async Task Maintenance_status_pipes_into_vacuum_and_table_size_into_analyze()
    {
        await using var scratch = await Scratch.CreateAsync(2000);
        await scratch.ExecAsync($"UPDATE {scratch.Name} SET val = val + 1");
        await scratch.WaitForDeadTuplesAsync(2000);
        var vars = Vars(("t", scratch.Name));
        var vacuumed = Assert.Single(_host.Invoke("Get-PuoMaintenanceStatus -Table $t | Where-Object Status -ne OK | Invoke-PuoVacuum -Analyze -Confirm:$false", vars)
            .ThrowIfFailed().Output);
        Assert.Equal("PuoOps.MaintenanceResult", vacuumed.TypeNames[0]);
        Assert.Equal("VACUUM (ANALYZE)", vacuumed.Properties["Operation"].Value);
        Assert.True((long)vacuumed.Properties["DeadTuplesBefore"].Value >= 2000);

        var analyzed = Assert.Single(_host.Invoke("Get-PuoTableSize -Table $t | Invoke-PuoAnalyze", vars).ThrowIfFailed().Output);
        Assert.Equal("ANALYZE", analyzed.Properties["Operation"].Value);
        Assert.True(await scratch.ScalarAsync<bool>($"SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = '{scratch.Name}'"));
    }

    [Fact]
    public async Task Vacuum_full_with_WhatIf_rewrites_nothing()
    {
        await using var scratch = await Scratch.CreateAsync(100);
        var before = await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{scratch.Name}'");
        var result = _host.Invoke("Invoke-PuoVacuum -Table $t -Full -WhatIf", Vars(("t", scratch.Name))).ThrowIfFailed();
        Assert.Empty(result.Output);
        Assert.Equal(before, await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{scratch.Name}'"));

        // -Full asks PowerShell's second question (ShouldContinue) even with -Confirm:$false: a host that cannot ask
        // gets an error and the table is not rewritten. -Force skips the question.
        var asked = _host.Invoke("Invoke-PuoVacuum -Table $t -Full -Confirm:$false", Vars(("t", scratch.Name)));
        Assert.Empty(asked.Output);
        Assert.NotEmpty(asked.Errors);
        Assert.Equal(before, await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{scratch.Name}'"));

        var full = Assert.Single(_host.Invoke("Invoke-PuoVacuum -Table $t -Full -Force -Confirm:$false", Vars(("t", scratch.Name))).ThrowIfFailed().Output);
        Assert.Equal("VACUUM (FULL)", full.Properties["Operation"].Value);
        Assert.NotEqual(before, await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{scratch.Name}'"));
    }

    [Fact]
    public void Bad_lock_timeout_and_parallel_full_are_invalid_arguments()
    {
        foreach (var script in new[] { "Invoke-PuoVacuum -Table memories -LockTimeout 0 -WhatIf", "Invoke-PuoVacuum -Full -Parallel 2 -WhatIf", "Invoke-PuoReindex x -LockTimeout 0 -WhatIf" })
        {
            var error = Assert.Single(_host.Invoke(script).Errors);
            Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        }
    }

    [Fact]
    public async Task Blocking_root_pipes_into_Stop_PuoQuery()
    {
        await using var scratch = await Scratch.CreateAsync(10);
        await using var holder = await SlowSession.StartAsync($"BEGIN; LOCK TABLE {scratch.Name} IN ACCESS EXCLUSIVE MODE;", "xunit-blocker");
        await using var waiter = await SlowSession.StartAsync($"SELECT count(*) FROM {scratch.Name}", "xunit-waiter");
        var vars = Vars(("holder", holder.Pid), ("waiter", waiter.Pid));
        PSObject? blocked = null;
        for (var i = 0; i < 50 && blocked is null; i++)
        {
            await Task.Delay(100);
            blocked = _host.Invoke("Get-PuoBlockingQuery | Where-Object Pid -eq $waiter", vars).ThrowIfFailed().Output.SingleOrDefault();
        }
        Assert.NotNull(blocked);
        Assert.Equal(holder.Pid, (int)blocked.Properties["RootBlocker"].Value);

        var stopped = Assert.Single(_host.Invoke("Get-PuoBlockingQuery -RootOnly | Where-Object Pid -eq $holder | Stop-PuoQuery -Terminate -Confirm:$false", vars)
            .ThrowIfFailed().Output);
        Assert.True((bool)stopped.Properties["Signalled"].Value);
        Assert.Null(await waiter.Running.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Query_plan_of_a_delete_leaves_every_row_and_several_statements_are_invalid()
    {
        await using var scratch = await Scratch.CreateAsync(300);
        var vars = Vars(("sql", $"DELETE FROM {scratch.Name}"), ("two", $"DELETE FROM {scratch.Name}; SELECT 1"));
        var plan = Assert.Single(_host.Invoke("Get-PuoQueryPlan -Query $sql -NoAnalyze", vars).ThrowIfFailed().Output);
        Assert.Equal("PuoOps.QueryPlan", plan.TypeNames[0]);
        Assert.Equal("ModifyTable", plan.Properties["RootNode"].Value);
        Assert.StartsWith("[", ((string)plan.Properties["Json"].Value).TrimStart());
        var refused = Assert.Single(_host.Invoke("Get-PuoQueryPlan -Query $sql", vars).Errors);
        Assert.StartsWith("PuoOps.Postgres.QueryPlanReadOnly", refused.FullyQualifiedErrorId);
        var error = Assert.Single(_host.Invoke("Get-PuoQueryPlan -Query $two", vars).Errors);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(300L, await scratch.ScalarAsync<long>($"SELECT count(*) FROM {scratch.Name}"));
    }

    /// <summary>
    /// setval is not undone by a rollback: the read-only transaction must refuse it, and text from the pipeline
    /// (someone else's) must not even be executed without -Analyze.
    /// </summary>
    [Fact]
    public async Task Query_plan_never_moves_a_sequence_however_the_statement_arrives()
    {
        await using var scratch = await Scratch.CreateAsync(1);
        var sequence = scratch.Name + "_seq";
        await scratch.ExecAsync($"CREATE SEQUENCE {sequence}; SELECT setval('{sequence}', 42)");
        try
        {
            var vars = Vars(("sql", $"SELECT setval('{sequence}', 999999)"), ("next", $"SELECT nextval('{sequence}')"));

            var typed = _host.Invoke("Get-PuoQueryPlan $sql", vars);
            Assert.StartsWith("PuoOps.Postgres.QueryPlanReadOnly", Assert.Single(typed.Errors).FullyQualifiedErrorId);
            Assert.Equal(42L, await scratch.ScalarAsync<long>($"SELECT last_value FROM {sequence}"));

            var piped = _host.Invoke("$sql, $next | Get-PuoQueryPlan -Verbose", vars).ThrowIfFailed();
            Assert.Equal(2, piped.Output.Count);
            Assert.All(piped.Output, plan => Assert.False((bool)plan.Properties["Analyzed"].Value));
            Assert.Contains(piped.Verbose, line => line.Contains("-Analyze", StringComparison.Ordinal));
            Assert.Equal(42L, await scratch.ScalarAsync<long>($"SELECT last_value FROM {sequence}"));

            var pipedAnalyze = _host.Invoke("$sql | Get-PuoQueryPlan -Analyze", vars);
            Assert.StartsWith("PuoOps.Postgres.QueryPlanReadOnly", Assert.Single(pipedAnalyze.Errors).FullyQualifiedErrorId);
            Assert.Equal(42L, await scratch.ScalarAsync<long>($"SELECT last_value FROM {sequence}"));

            var slowQueryRow = _host.Invoke("[pscustomobject]@{ Query = $next } | Get-PuoQueryPlan", vars).ThrowIfFailed();
            Assert.False((bool)Assert.Single(slowQueryRow.Output).Properties["Analyzed"].Value);
            Assert.Equal(42L, await scratch.ScalarAsync<long>($"SELECT last_value FROM {sequence}"));
        }
        finally
        {
            await scratch.ExecAsync($"DROP SEQUENCE IF EXISTS {sequence}");
        }
    }

    [Fact]
    public async Task Query_plan_gives_up_on_a_lock_within_the_timeout()
    {
        await using var scratch = await Scratch.CreateAsync(10);
        await using var holder = await SlowSession.StartAsync($"BEGIN; LOCK TABLE {scratch.Name} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60)");
        var result = _host.Invoke("Get-PuoQueryPlan -NoAnalyze -TimeoutSec 2 -Query $sql", Vars(("sql", $"SELECT * FROM {scratch.Name}")));
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Postgres.QueryPlanTimeout", error.FullyQualifiedErrorId);
    }

    [Fact]
    public async Task Ctrl_C_stops_a_vacuum_waiting_on_a_lock()
    {
        await using var scratch = await Scratch.CreateAsync(10);
        await using var holder = await SlowSession.StartAsync($"BEGIN; LOCK TABLE {scratch.Name} IN ACCESS EXCLUSIVE MODE;");
        var (shell, pending) = _host.Start($"Invoke-PuoVacuum -Table {scratch.Name} -LockTimeout 00:05:00 -Confirm:$false");
        using (shell)
        {
            Thread.Sleep(1000);
            Assert.False(pending.IsCompleted);
            shell.Stop();
            Assert.True(pending.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(5)));
            Assert.Equal(PSInvocationState.Stopped, shell.InvocationStateInfo.State);
        }
    }

    [Fact]
    public void Every_maintenance_type_has_a_default_table_view()
    {
        var views = _host.Invoke("Get-FormatData -TypeName PuoOps.* | ForEach-Object TypeNames").ThrowIfFailed().Output.Select(o => o.ToString()).ToList();
        foreach (var type in new[] { "TableSize", "MaintenanceStatus", "IndexUsage", "IndexBloat", "MaintenanceResult", "ReindexResult", "BlockingQuery", "QueryPlan", "PrewarmResult" })
            Assert.Contains("PuoOps." + type, views);
    }
}
