using System.Diagnostics;
using System.Management.Automation;
using System.Text.Json.Nodes;
using PuoOps.Engine.Backup;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Backup;

/// <summary>
/// The backup folder is input: nobody else may read a backup, plant one, or steer a restore through its manifest.
/// Each test here failed before the folder, the archive and the manifest were checked.
/// </summary>
public sealed class BackupTrustTests : IDisposable
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly ModuleHost _host = new();

    public void Dispose() => _host.Dispose();

    private Dictionary<string, object?> Connect(ScratchDatabase db)
    {
        var vars = new Dictionary<string, object?> { ["n"] = db.Name, ["cs"] = db.ConnectionString, ["dir"] = db.Directory };
        _host.Invoke("$null = Connect-PuoEnvironment -Name $n -PostgresConnectionString $cs -SkipCheck", vars).ThrowIfFailed();
        return vars;
    }

    private string Backup(Dictionary<string, object?> vars, string format = "Custom")
    {
        vars["format"] = format;
        return (string)Assert.Single(_host.Invoke("(Backup-PuoDatabase -Path $dir -Environment $n -Format $format).Path", vars).ThrowIfFailed().Output).BaseObject;
    }

    private static void EditManifest(string backupPath, Action<JsonNode> edit)
    {
        var path = backupPath + ".json";
        var manifest = JsonNode.Parse(File.ReadAllText(path))!;
        edit(manifest);
        File.WriteAllText(path, manifest.ToJsonString());
    }

    [Fact]
    public async Task A_new_backup_folder_is_owner_only_and_every_file_in_it_too()
    {
        await using var db = await ScratchDatabase.CreateAsync(500);
        var vars = Connect(db);
        var folder = Path.Combine(db.Directory, "nested", "backups");
        vars["dir"] = folder;
        var dump = Backup(vars);
        var directory = Backup(vars, "Directory");

        Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(folder));
        Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(Path.GetDirectoryName(folder)!));
        Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(directory));
        var files = new[] { dump, dump + ".json", directory + ".json" }.Concat(Directory.GetFiles(directory)).ToList();
        Assert.Contains(files, f => f.EndsWith("toc.dat", StringComparison.Ordinal));
        Assert.All(files, f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
    }

    [Fact]
    public async Task A_symlink_planted_where_the_manifest_is_rewritten_is_never_written_through()
    {
        await using var db = await ScratchDatabase.CreateAsync(300);
        var vars = Connect(db);
        var dump = Backup(vars);
        var victim = Path.Combine(db.Directory, "victim.txt");
        File.WriteAllText(victim, "precious");
        // The name the manifest's temp file used to have: predictable, and written through whatever sits there.
        var planted = Path.Combine(db.Directory, "." + Path.GetFileName(dump) + ".json.partial");
        File.CreateSymbolicLink(planted, victim);

        var test = Assert.Single(_host.Invoke("Test-PuoBackup -Path $p -Environment $n", new Dictionary<string, object?>(vars) { ["p"] = dump }).ThrowIfFailed().Output);
        Assert.Equal("OK", test.Properties["Status"].Value.ToString());
        Assert.Equal("precious", File.ReadAllText(victim));
        Assert.Null(new FileInfo(dump + ".json").LinkTarget);
        Assert.Contains("LastVerification", File.ReadAllText(dump + ".json"));
    }

    [Fact]
    public async Task A_folder_others_can_write_is_refused_for_restore_and_trial_restore_unless_Force()
    {
        await using var db = await ScratchDatabase.CreateAsync(300);
        var vars = Connect(db);
        var dump = Backup(vars);
        vars["p"] = dump;
        var before = await db.FingerprintAsync();
        File.SetUnixFileMode(db.Directory, OwnerOnlyFolder | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.OtherRead);

        var restore = _host.Invoke("Restore-PuoBackup -Path $p -Environment $n -WhatIf", vars);
        var error = Assert.Single(restore.Errors);
        Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Backup.UntrustedFolder", error.FullyQualifiedErrorId);
        Assert.Contains(db.Directory, error.ToString());
        var trial = _host.Invoke("Test-PuoBackup -Path $p -Environment $n -Restore", vars);
        Assert.StartsWith("PuoOps.Backup.UntrustedFolder", Assert.Single(trial.Errors).FullyQualifiedErrorId);
        Assert.Empty(trial.Output);
        Assert.Empty(await db.DerivedDatabasesAsync());

        var forced = Assert.Single(_host.Invoke("Test-PuoBackup -Path $p -Environment $n -Restore -Force", vars).ThrowIfFailed().Output);
        Assert.Equal("OK", forced.Properties["Status"].Value.ToString());
        Assert.Equal(before, await db.FingerprintAsync());
    }

    [Fact]
    public async Task A_backup_owned_by_another_user_is_refused_for_restore()
    {
        if (Environment.UserName != "root")
        {
            Assert.False(Environment.GetEnvironmentVariable("CI") == "true", "CI runs as root, where another owner can be set.");
            return;
        }
        await using var db = await ScratchDatabase.CreateAsync(300);
        var vars = Connect(db);
        vars["p"] = Backup(vars);
        using (var chown = Process.Start("chown", ["nobody", (string)vars["p"]!]))
            chown.WaitForExit();
        var error = Assert.Single(_host.Invoke("Restore-PuoBackup -Path $p -Environment $n -WhatIf", vars).Errors);
        Assert.StartsWith("PuoOps.Backup.UntrustedFolder", error.FullyQualifiedErrorId);
        Assert.Contains("another user", error.ToString());
    }

    [Fact]
    public async Task Backup_refuses_an_existing_folder_others_can_write_or_another_user_owns_unless_Force()
    {
        await using var db = await ScratchDatabase.CreateAsync(300);
        var vars = Connect(db);
        var everyone = Path.Combine(db.Directory, "planted-0777");
        Directory.CreateDirectory(everyone);
        File.SetUnixFileMode(everyone, (UnixFileMode)0b111_111_111); // what another user's mkdir + chmod 777 leaves
        var folders = new List<(string Folder, string Why)> { (everyone, "every user") };
        if (Environment.UserName == "root")
        {
            var foreign = Path.Combine(db.Directory, "planted-by-nobody");
            Directory.CreateDirectory(foreign);
            File.SetUnixFileMode(foreign, OwnerOnlyFolder);
            using (var chown = Process.Start("chown", ["nobody", foreign]))
                chown.WaitForExit();
            folders.Add((foreign, "another user"));
        }
        else
            Assert.False(Environment.GetEnvironmentVariable("CI") == "true", "CI runs as root, where another owner can be set.");

        foreach (var (folder, why) in folders)
        {
            vars["dir"] = folder;
            var refused = _host.Invoke("Backup-PuoDatabase -Path $dir -Environment $n", vars);
            var error = Assert.Single(refused.Errors);
            Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
            Assert.StartsWith("PuoOps.Backup.UntrustedFolder", error.FullyQualifiedErrorId);
            Assert.Equal(folder, error.TargetObject);
            Assert.Contains(folder, error.ToString());
            Assert.Contains(why, error.ToString());
            Assert.Empty(refused.Output);
            Assert.Empty(Directory.EnumerateFileSystemEntries(folder));

            var forced = Assert.Single(_host.Invoke("Backup-PuoDatabase -Path $dir -Environment $n -Force", vars).ThrowIfFailed().Output);
            Assert.True(File.Exists((string)forced.Properties["Path"].Value));
        }
    }

    [Fact]
    public async Task A_manifest_whose_database_is_a_connection_string_is_refused_as_invalid_before_anything_runs()
    {
        await using var db = await ScratchDatabase.CreateAsync(300);
        var vars = Connect(db);
        var dump = Backup(vars);
        vars["p"] = dump;
        EditManifest(dump, m => m["Database"] = "host=127.0.0.1 port=1 dbname=x");

        foreach (var script in new[] { "Test-PuoBackup -Path $p -Environment $n -Restore", "Restore-PuoBackup -Path $p -Environment $n -WhatIf", "Get-PuoBackup -Path $dir" })
        {
            var result = _host.Invoke(script, vars);
            var error = Assert.Single(result.Errors);
            Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
            Assert.StartsWith("PuoOps.Backup.ManifestInvalid", error.FullyQualifiedErrorId);
            Assert.Contains("host=127.0.0.1 port=1 dbname=x", error.ToString());
        }
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM pg_database WHERE datname LIKE 'host=%'"));
    }

    [Theory]
    [InlineData("Privilege", "CONNECT ON DATABASE postgres TO PUBLIC; CREATE ROLE t20_pwned; GRANT CONNECT")]
    [InlineData("LocaleProvider", "libc; CREATE ROLE t20_pwned")]
    public async Task Manifest_privileges_and_locale_provider_outside_the_allow_list_are_refused(string field, string value)
    {
        await using var db = await ScratchDatabase.CreateAsync(300);
        await db.ExecuteAsync($"REVOKE CONNECT ON DATABASE {db.Name} FROM PUBLIC"); // so the manifest records grants
        var vars = Connect(db);
        var dump = Backup(vars);
        vars["p"] = dump;
        EditManifest(dump, m =>
        {
            var properties = m["Properties"]!;
            if (field == "Privilege")
                properties["Grants"]![0]!["Privilege"] = value;
            else
                properties["LocaleProvider"] = value;
        });
        await ScratchDatabase.AdminAsync($"DROP DATABASE {db.Name} WITH (FORCE)"); // gone: the restore would take the properties from the manifest
        var error = Assert.Single(_host.Invoke("Restore-PuoBackup -Path $p -Environment $n -Confirm:$false", vars).Errors);
        Assert.StartsWith("PuoOps.Backup.ManifestInvalid", error.FullyQualifiedErrorId);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM pg_roles WHERE rolname = 't20_pwned'"));
    }

    [Fact]
    public async Task Pg_restore_takes_a_database_name_that_looks_like_a_uri_as_a_name()
    {
        await using var db = await ScratchDatabase.CreateAsync(300);
        var vars = Connect(db);
        var dump = Backup(vars);
        vars["p"] = dump;
        // libpq reads a bare --dbname starting with postgres:// as a URI (here: the default socket, where nothing listens).
        EditManifest(dump, m => m["Database"] = "postgres:///" + db.Name);
        var test = Assert.Single(_host.Invoke("Test-PuoBackup -Path $p -Environment $n -Restore", vars).ThrowIfFailed().Output);
        Assert.Equal("OK", test.Properties["Status"].Value.ToString());
        Assert.Equal(true, test.Properties["RowCountsMatch"].Value);
        Assert.Equal(0L, await ScalarAsync("SELECT count(*) FROM pg_database WHERE datname LIKE 'postgres:%'"));
    }

    [Fact]
    public async Task A_foreign_file_is_refused_before_WhatIf_naming_the_file()
    {
        await using var db = await ScratchDatabase.CreateAsync(100);
        var vars = Connect(db);
        var notes = Path.Combine(db.Directory, "notes.dump");
        File.WriteAllText(notes, "not a dump");
        File.WriteAllText(notes + ".json", File.ReadAllText(Backup(vars) + ".json"));
        var headerOnly = Path.Combine(db.Directory, "headeronly.dump");
        File.WriteAllText(headerOnly, "PGDMP and then nothing");
        var emptyFolder = Directory.CreateDirectory(Path.Combine(db.Directory, "empty.dir")).FullName;

        foreach (var (path, id) in new[] { ("/etc/passwd", "PuoOps.Backup.NotAnArchive"), (notes, "PuoOps.Backup.NotAnArchive"),
                     (emptyFolder, "PuoOps.Backup.NotAnArchive"), (headerOnly, "PuoOps.Backup.NoManifest") })
        {
            var result = _host.Invoke("Restore-PuoBackup -Path $p -Environment $n -WhatIf", new Dictionary<string, object?>(vars) { ["p"] = path });
            var error = Assert.Single(result.Errors);
            Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
            Assert.StartsWith(id, error.FullyQualifiedErrorId);
            Assert.Contains(path, error.ToString());
            Assert.Equal(path, error.TargetObject);
        }
    }

    private static async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
