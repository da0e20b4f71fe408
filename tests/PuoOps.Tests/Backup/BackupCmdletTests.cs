using System.Management.Automation;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Backup;

/// <summary>The backup cmdlets of the built module, as an operator runs them, on a database of the test's own.</summary>
public sealed class BackupCmdletTests : IDisposable
{
    private readonly ModuleHost _host = new();

    public void Dispose() => _host.Dispose();

    /// <summary>Connects an environment named after the scratch database and returns the variables for scripts.</summary>
    private Dictionary<string, object?> Connect(ScratchDatabase db)
    {
        var vars = new Dictionary<string, object?> { ["n"] = db.Name, ["cs"] = db.ConnectionString, ["dir"] = db.Directory };
        _host.Invoke("$null = Connect-PuoEnvironment -Name $n -PostgresConnectionString $cs -SkipCheck -NoDefault", vars).ThrowIfFailed();
        return vars;
    }

    [Fact]
    public async Task Backup_piped_to_Test_with_restore_is_OK_and_Get_shows_it_verified()
    {
        await using var db = await ScratchDatabase.CreateAsync(2_000);
        var vars = Connect(db);
        var result = _host.Invoke("Backup-PuoDatabase -Path $dir -Environment $n -Verbose | Test-PuoBackup -Restore -Verbose", vars).ThrowIfFailed();
        var test = Assert.Single(result.Output);
        Assert.Equal("PuoOps.BackupTestResult", test.BaseObject.GetType().FullName);
        Assert.Equal("PuoOps.BackupTestResult#Restore", test.TypeNames[0]); // the view that shows the restore's columns
        Assert.Equal("OK", test.Properties["Status"].Value.ToString());
        Assert.Equal(true, test.Properties["RowCountsMatch"].Value);
        Assert.Equal(db.Name, test.Properties["Environment"].Value);
        Assert.DoesNotContain(Sandbox.Current.PostgresPassword, result.AllText);

        var latest = Assert.Single(_host.Invoke("Get-PuoBackup -Path $dir -Latest", vars).ThrowIfFailed().Output);
        Assert.Equal("PuoOps.DatabaseBackup", latest.TypeNames[0]);
        Assert.Equal(true, latest.Properties["Verified"].Value);
        Assert.Equal(db.Name, latest.Properties["Database"].Value);
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    [Fact]
    public async Task Restore_with_WhatIf_changes_nothing_and_Latest_restores_for_real()
    {
        await using var db = await ScratchDatabase.CreateAsync(2_000);
        var vars = Connect(db);
        _host.Invoke("$null = Backup-PuoDatabase -Path $dir -Environment $n", vars).ThrowIfFailed();
        await db.ExecuteAsync("DELETE FROM memories WHERE id % 2 = 0");
        var damaged = await db.FingerprintAsync();

        var whatIf = _host.Invoke("Restore-PuoBackup -Path $dir -Latest -Environment $n -WhatIf", vars).ThrowIfFailed();
        Assert.Empty(whatIf.Output);
        Assert.Equal(damaged, await db.FingerprintAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());

        var real = Assert.Single(_host.Invoke("Get-PuoBackup -Path $dir -Latest | Restore-PuoBackup -Environment $n -Jobs 2 -Confirm:$false", vars).ThrowIfFailed().Output);
        Assert.Equal("PuoOps.RestoreResult", real.TypeNames[0]);
        Assert.Equal(20_00L, (long)(await db.ScalarAsync("SELECT count(*) FROM memories"))!);
        Assert.Equal(damaged, await db.FingerprintAsync((string)real.Properties["PreviousDatabase"].Value));
    }

    [Fact]
    public async Task Ctrl_C_during_pg_restore_leaves_the_original_untouched_and_no_scratch_database()
    {
        await using var db = await ScratchDatabase.CreateAsync(150_000);
        var (shell, pending, before) = await StartRestoreUntilPgRestoreRunsAsync(db);
        using (shell)
        {
            Assert.False(pending.IsCompleted);
            shell.Stop();
            Assert.Equal(PSInvocationState.Stopped, shell.InvocationStateInfo.State);
        }
        Assert.Equal(before, await db.FingerprintAsync());
        Assert.Empty(await db.WaitForNoScratchAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    [Fact]
    public async Task Killing_pg_restore_mid_restore_gives_a_clear_error_the_original_untouched_and_no_scratch_database()
    {
        await using var db = await ScratchDatabase.CreateAsync(150_000);
        var (shell, pending, before) = await StartRestoreUntilPgRestoreRunsAsync(db);
        using (shell)
        {
            // Only the pg_restore this test started: its command line names this test's own database.
            var pgRestore = Assert.Single(System.Diagnostics.Process.GetProcessesByName("pg_restore"), p => BackupEngineTests.IsOurs(p, db.Name));
            pgRestore.Kill();
            shell.EndInvoke(pending);
            var error = Assert.Single(shell.Streams.Error);
            Assert.Equal(ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
            Assert.StartsWith("PuoOps.Backup.RestoreFailed", error.FullyQualifiedErrorId);
            Assert.Contains("killed by signal 9", error.ToString());
            Assert.Contains($"{db.Name} was left as it was", error.ToString());
        }
        Assert.Equal(before, await db.FingerprintAsync());
        Assert.Empty(await db.WaitForNoScratchAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    /// <summary>
    /// Backs <paramref name="db"/> up, changes it (so a restore would be visible), starts Restore-PuoBackup of that
    /// backup and returns once its pg_restore runs, with the database's fingerprint from before.
    /// </summary>
    private async Task<(PowerShell Shell, IAsyncResult Pending, string Before)> StartRestoreUntilPgRestoreRunsAsync(ScratchDatabase db)
    {
        var vars = Connect(db);
        var path = (string)Assert.Single(_host.Invoke("(Backup-PuoDatabase -Path $dir -Environment $n).Path", vars).ThrowIfFailed().Output).BaseObject;
        await db.ExecuteAsync("INSERT INTO audit_logs (action) VALUES ('after.backup')");
        var before = await db.FingerprintAsync();
        var (shell, pending) = _host.Start($"Restore-PuoBackup -Path '{path}' -Environment '{db.Name}' -Confirm:$false");
        try
        {
            await BackupEngineTests.WaitForPgRestoreAsync(db);
        }
        catch
        {
            shell.Dispose();
            throw;
        }
        return (shell, pending, before);
    }

    [Fact]
    public async Task A_corrupted_backup_is_Critical_and_Restore_refuses_it_with_an_InvalidOperation_error()
    {
        await using var db = await ScratchDatabase.CreateAsync(3_000);
        var vars = Connect(db);
        var path = (string)Assert.Single(_host.Invoke("(Backup-PuoDatabase -Path $dir -Environment $n).Path", vars).ThrowIfFailed().Output).BaseObject;
        await using (var file = File.OpenWrite(path))
            file.SetLength(file.Length - 100);
        var before = await db.FingerprintAsync();

        var test = Assert.Single(_host.Invoke("Get-PuoBackup -Path $dir | Test-PuoBackup", vars).ThrowIfFailed().Output);
        Assert.Equal("Critical", test.Properties["Status"].Value.ToString());
        var restore = _host.Invoke("Restore-PuoBackup -Path $dir -Latest -Environment $n -Confirm:$false", vars);
        var error = Assert.Single(restore.Errors);
        Assert.Equal(ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Backup.Corrupt", error.FullyQualifiedErrorId);
        Assert.Contains("nothing was changed", error.ToString());
        Assert.Equal(before, await db.FingerprintAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    [Fact]
    public async Task Keep_removes_the_oldest_backups_but_not_under_WhatIf()
    {
        await using var db = await ScratchDatabase.CreateAsync(200);
        var vars = Connect(db);
        _host.Invoke("1..3 | ForEach-Object { $null = Backup-PuoDatabase -Path $dir -Environment $n }", vars).ThrowIfFailed();
        _host.Invoke("$null = Backup-PuoDatabase -Path $dir -Environment $n -Keep 1 -WhatIf", vars).ThrowIfFailed();
        Assert.Equal(3, Directory.GetFiles(db.Directory, "*.dump").Length);
        var newest = _host.Invoke("Backup-PuoDatabase -Path $dir -Environment $n -Keep 2 -Confirm:$false", vars).ThrowIfFailed();
        Assert.Equal(2, Directory.GetFiles(db.Directory, "*.dump").Length);
        Assert.Equal(2, Directory.GetFiles(db.Directory, "*.dump.json").Length);
        Assert.True(File.Exists((string)Assert.Single(newest.Output).Properties["Path"].Value));
    }

    [Fact]
    public async Task A_corrupt_or_foreign_manifest_is_named_in_a_warning_and_every_other_backup_still_counts()
    {
        await using var db = await ScratchDatabase.CreateAsync(200);
        var vars = Connect(db);
        _host.Invoke("1..3 | ForEach-Object { $null = Backup-PuoDatabase -Path $dir -Environment $n }", vars).ThrowIfFailed();
        var good = Directory.GetFiles(db.Directory, "*.dump").Order().ToArray();
        // Two dumps whose manifests are broken: one is not JSON at all, the other is another tool's JSON.
        foreach (var (name, json) in new[] { ("corrupt", "{\"Database\": \"puo_memo\", \"Sha2"), ("foreign", "{\"name\": \"settings\", \"retries\": 3}") })
        {
            File.Copy(good[0], Path.Combine(db.Directory, $"{name}.dump"));
            File.WriteAllText(Path.Combine(db.Directory, $"{name}.dump.json"), json);
            File.SetLastWriteTimeUtc(Path.Combine(db.Directory, $"{name}.dump"), DateTime.UtcNow.AddHours(1));
        }

        var listed = _host.Invoke("Get-PuoBackup -Path $dir", vars).ThrowIfFailed();
        Assert.Equal(good, listed.Output.Select(b => (string)b.Properties["Path"].Value).Order());
        Assert.Equal(2, listed.Warnings.Count);
        Assert.Contains(listed.Warnings, w => w.Contains("corrupt.dump.json") && w.Contains("not valid JSON"));
        Assert.Contains(listed.Warnings, w => w.Contains("foreign.dump.json") && w.Contains("not a PuoOps backup manifest"));

        var latest = _host.Invoke("Get-PuoBackup -Path $dir -Latest", vars).ThrowIfFailed();
        Assert.Equal(listed.Output[0].Properties["Path"].Value, Assert.Single(latest.Output).Properties["Path"].Value);
        var restore = _host.Invoke("Restore-PuoBackup -Path $dir -Latest -Environment $n -WhatIf", vars).ThrowIfFailed();
        Assert.Contains(restore.Warnings, w => w.Contains("corrupt.dump.json"));

        var space = _host.Invoke("Test-PuoDiskSpace -Path $dir -Environment $n", vars).ThrowIfFailed();
        Assert.Equal(new FileInfo((string)listed.Output[0].Properties["Path"].Value).Length, (long)Assert.Single(space.Output).Properties["LastBackupSizeBytes"].Value);
        Assert.Contains(space.Warnings, w => w.Contains("foreign.dump.json"));

        var kept = _host.Invoke("Backup-PuoDatabase -Path $dir -Environment $n -Keep 2 -Confirm:$false", vars).ThrowIfFailed();
        Assert.Contains(kept.Warnings, w => w.Contains("corrupt.dump.json"));
        // -Keep 2 leaves the new backup and the newest good one; the two it could not read are not its to remove.
        var left = new[] { "corrupt.dump", "foreign.dump", (string)listed.Output[0].Properties["Path"].Value, (string)Assert.Single(kept.Output).Properties["Path"].Value };
        Assert.Equal(left.Select(Path.GetFileName).Order(), Directory.GetFiles(db.Directory, "*.dump").Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task Migration_with_a_failing_smoke_test_restores_the_verified_backup_and_names_it()
    {
        await using var db = await ScratchDatabase.CreateAsync(1_000);
        var vars = Connect(db);
        vars["cmd"] = "psql -X -q -c \"UPDATE alembic_version SET version_num = 'feed00000001'\"";
        // The smoke test runs on the pipeline thread: it may call cmdlets and read variables.
        var ok = _host.Invoke("Invoke-PuoMigration -BackupPath $dir -Command $cmd -ExpectedVersion feed00000001 -Environment $n " +
                              "-SmokeTest { (Get-PuoMigrationVersion -Environment $n).Version -eq 'feed00000001' } -Confirm:$false", vars).ThrowIfFailed();
        var run = Assert.Single(ok.Output);
        Assert.Equal(true, run.Properties["Succeeded"].Value);
        Assert.Equal("feed00000001", run.Properties["VersionAfter"].Value);
        Assert.Equal(5, ((System.Collections.ICollection)run.Properties["Steps"].Value).Count);

        vars["cmd"] = "psql -X -q -c \"UPDATE alembic_version SET version_num = 'bad000000002'; DELETE FROM memories\"";
        var failed = _host.Invoke("Invoke-PuoMigration -BackupPath $dir -Command $cmd -ExpectedVersion bad000000002 -Environment $n " +
                                  "-SmokeTest { (Get-PuoMigrationVersion -Environment $n).Version -ne 'bad000000002' } -RestoreOnFailure -Confirm:$false", vars);
        var error = Assert.Single(failed.Errors);
        Assert.StartsWith("PuoOps.Backup.MigrationFailed", error.FullyQualifiedErrorId);
        var record = Assert.Single(failed.Output);
        Assert.Equal(false, record.Properties["Succeeded"].Value);
        Assert.Equal(true, record.Properties["Restored"].Value);
        Assert.Contains((string)record.Properties["BackupPath"].Value, error.ToString());
        Assert.Equal("feed00000001", await db.ScalarAsync("SELECT version_num FROM alembic_version"));
        Assert.Equal(1_000L, await db.ScalarAsync("SELECT count(*) FROM memories"));
        Assert.DoesNotContain(Sandbox.Current.PostgresPassword, failed.AllText);
    }

    [Fact]
    public void Invalid_values_are_rejected_before_anything_runs()
    {
        var result = _host.Invoke("Test-PuoBackup -Path /nonexistent/backup.dump -MaxAge -00:01:00");
        Assert.Equal(ErrorCategory.InvalidArgument, Assert.Single(result.Errors).CategoryInfo.Category);
        var missing = _host.Invoke("Test-PuoBackup -Path /nonexistent/backup.dump");
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(missing.Errors).CategoryInfo.Category);
    }
}
