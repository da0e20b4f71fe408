using System.Diagnostics;
using System.Security.Cryptography;
using PuoOps.Engine;
using PuoOps.Engine.Backup;
using PuoOps.Engine.Postgres;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Backup;

public sealed class BackupEngineTests
{
    private static OperationContext Context(PuoEnvironment env, CancellationToken cancellation = default, List<string>? log = null) =>
        new(env, TimeSpan.FromSeconds(30), cancellation, null, log is null ? null : line => { lock (log) log.Add(line); });

    [Fact]
    public async Task Backup_writes_a_timestamped_dump_whose_manifest_matches_the_database_and_the_file()
    {
        await using var db = await ScratchDatabase.CreateAsync();
        using var env = db.Environment();
        var log = new List<string>();
        var backup = await BackupService.BackupAsync(Context(env, log: log), new BackupOptions { Directory = db.Directory });

        Assert.Matches($@"^{db.Name}_\d{{8}}T\d{{6}}Z\.dump$", backup.Name);
        Assert.True(File.Exists(backup.Path));
        Assert.True(backup.HasManifest);
        Assert.Equal(db.Name, backup.Database);
        Assert.Equal(ScratchDatabase.Alembic, backup.AlembicVersion);
        Assert.StartsWith(Sandbox.Current.PostgresMajor + ".", backup.ServerVersion);
        Assert.False(backup.Partial);
        Assert.Equal(20_000, Assert.Single(backup.Tables, t => t.Name == "memories").Rows);
        Assert.Equal(2_000, Assert.Single(backup.Tables, t => t.Name == "audit_logs").Rows);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(backup.Path))).ToLowerInvariant(), backup.Sha256);
        Assert.Equal(new FileInfo(backup.Path).Length, backup.SizeBytes);
        var manifest = BackupStore.ReadManifest(backup.ManifestPath)!;
        Assert.Equal(3, manifest.ManifestVersion);
        Assert.Equal(backup.SizeBytes, manifest.Chunks!.Sum(c => c.Length));
        Assert.True(backup.EndTime >= backup.StartTime);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(db.Directory), p => p.EndsWith(".partial", StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.Contains(Sandbox.Current.PostgresPassword, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Row_counts_are_what_the_dump_holds_while_the_application_keeps_writing()
    {
        // The counts run beside pg_dump, in its exported snapshot: rows committed meanwhile are in neither.
        await using var db = await ScratchDatabase.CreateAsync(200_000);
        using var env = db.Environment();
        using var stop = new CancellationTokenSource();
        var writes = Task.Run(async () =>
        {
            await using var writer = new Npgsql.NpgsqlConnection(db.ConnectionString);
            await writer.OpenAsync();
            var inserted = 0;
            while (!stop.IsCancellationRequested && inserted < 100_000)
            {
                await using var insert = new Npgsql.NpgsqlCommand(
                    "INSERT INTO memories (user_id, content) VALUES ('writer', 'x'); INSERT INTO audit_logs (action) VALUES ('write')", writer);
                await insert.ExecuteNonQueryAsync();
                inserted++;
            }
            return inserted;
        });
        const long before = 200_010;
        await WaitForRowsAsync(db, before);
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        stop.Cancel();
        var inserted = await writes;

        var dumped = Assert.Single(backup.Tables, t => t.Name == "memories").Rows;
        Assert.InRange(dumped, before, 200_000 + inserted - 1); // rows were written after the snapshot too
        Assert.Equal(dumped - 200_000, Assert.Single(backup.Tables, t => t.Name == "audit_logs").Rows - 20_000);
        var test = await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions { Restore = true });
        Assert.True(test.Status == Status.OK, test.Message); // the restored tables hold exactly the manifest's counts
    }

    /// <summary>Waits until the writer has committed rows, so the backup starts while it writes.</summary>
    private static async Task WaitForRowsAsync(ScratchDatabase db, long rows)
    {
        for (var deadline = Stopwatch.StartNew(); deadline.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(20))
            if ((long)(await db.ScalarAsync("SELECT count(*) FROM memories"))! >= rows)
                return;
        throw new TimeoutException($"The writer did not reach {rows} rows.");
    }

    [Fact]
    public async Task Table_backup_holds_only_that_table_like_the_runbooks_pg_dump_t_audit_logs()
    {
        await using var db = await ScratchDatabase.CreateAsync(2_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Tables = ["audit_logs"] });
        Assert.True(backup.Partial);
        Assert.Contains("_audit_logs_", backup.Name);
        Assert.Equal("audit_logs", Assert.Single(backup.Tables).Name);
        var list = await PgRestoreListAsync(backup.Path);
        Assert.Contains("TABLE DATA public audit_logs", list);
        Assert.DoesNotContain("memories", list);

        var missing = await Assert.ThrowsAsync<PuoException>(() =>
            BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Tables = ["no_such_table"] }));
        Assert.Equal("PuoOps.Backup.TableNotFound", missing.ErrorId);
    }

    [Fact]
    public async Task Table_patterns_resolve_to_the_exact_tables_dumped_and_one_matching_nothing_fails_before_pg_dump()
    {
        await using var db = await ScratchDatabase.CreateAsync(500);
        using var env = db.Environment();
        async Task<string[]> Dumped(params string[] tables)
        {
            var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Tables = tables });
            var list = await PgRestoreListAsync(backup.Path);
            // The manifest lists exactly what pg_dump dumped.
            Assert.All(backup.Tables, t => Assert.Contains($"TABLE DATA {t.Schema} {t.Name} ", list));
            Assert.Equal(backup.Tables.Count, list.Split('\n').Count(l => l.Contains(" TABLE DATA ", StringComparison.Ordinal)));
            return backup.Tables.Select(t => t.ToString()).Order(StringComparer.Ordinal).ToArray();
        }

        Assert.Equal(new[] { "public.audit_logs" }, await Dumped("audit*"));
        Assert.Equal(new[] { "public.audit_logs" }, await Dumped("public.audit_logs"));
        Assert.Equal(new[] { "public.alembic_version", "public.audit_logs" }, await Dumped("a*"));
        Assert.Equal(new[] { "public.alembic_version", "public.audit_logs", "public.memories" }, await Dumped("public.*"));
        Assert.Equal(new[] { "public.memories" }, await Dumped("*.MEM?RIES", "memories"));

        // The module's rule: a wildcard that matches nothing selects nothing, a name that matches nothing is an error.
        Assert.Equal(new[] { "public.audit_logs" }, await Dumped("audit_logs", "nomatch*"));
        var entries = Directory.GetFileSystemEntries(db.Directory).Length;
        foreach (var tables in new[] { new[] { "audit_logs", "nomatch" }, new[] { "nomatch*" } })
        {
            var missing = await Assert.ThrowsAsync<PuoException>(() =>
                BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Tables = tables }));
            Assert.Equal(ErrorKind.NotFound, missing.Kind);
            Assert.Equal("PuoOps.Backup.TableNotFound", missing.ErrorId);
            Assert.Contains($"'{tables[^1]}'", missing.Message);
        }
        // Nothing was dumped: pg_dump without --table would have dumped everything.
        Assert.Equal(entries, Directory.GetFileSystemEntries(db.Directory).Length);
        var unclosed = await Assert.ThrowsAsync<PuoException>(() =>
            BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Tables = ["audit[_logs"] }));
        Assert.Equal(ErrorKind.InvalidArgument, unclosed.Kind);
    }

    [Fact]
    public async Task A_hostile_table_name_is_dumped_literally_never_read_as_a_pg_dump_pattern_or_as_SQL()
    {
        await using var db = await ScratchDatabase.CreateAsync(500);
        using var env = db.Environment();
        // As a pg_dump pattern, ? would also match the decoy; unquoted, the rest would be SQL.
        const string hostile = "a?c\"; DROP TABLE memories; --";
        const string decoy = "abc\"; DROP TABLE memories; --";
        await db.ExecuteAsync($"CREATE TABLE {SqlQuote.Identifier(hostile)} (id int); INSERT INTO {SqlQuote.Identifier(hostile)} VALUES (1), (2); " +
                              $"CREATE TABLE {SqlQuote.Identifier(decoy)} (id int); INSERT INTO {SqlQuote.Identifier(decoy)} VALUES (1);");

        var backup = await BackupService.BackupAsync(Context(env),
            new BackupOptions { Directory = db.Directory, Tables = [System.Management.Automation.WildcardPattern.Escape(hostile)] });
        var table = Assert.Single(backup.Tables);
        Assert.Equal(hostile, table.Name);
        Assert.Equal(2, table.Rows);
        var list = await PgRestoreListAsync(backup.Path);
        Assert.Contains(hostile, list);
        Assert.DoesNotContain(decoy, list);
        Assert.Equal(500L, await db.ScalarAsync("SELECT count(*) FROM memories"));
        Assert.Equal(Status.OK, (await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions { Restore = true })).Status);

        // Unescaped, ? is a PowerShell wildcard: both tables, each still passed to pg_dump literally.
        var both = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Tables = [hostile] });
        Assert.Equal(new[] { decoy, hostile }.Order(StringComparer.Ordinal), both.Tables.Select(t => t.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Directory_format_with_jobs_dumps_in_parallel_and_verifies()
    {
        await using var db = await ScratchDatabase.CreateAsync(5_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Format = BackupFormat.Directory, Jobs = 2 });
        Assert.Equal(BackupFormat.Directory, backup.Format);
        Assert.True(File.Exists(Path.Combine(backup.Path, "toc.dat")));
        var test = await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions());
        Assert.Equal(Status.OK, test.Status);
        Assert.True(test.ChecksumMatches);

        var refused = await Assert.ThrowsAsync<PuoException>(() =>
            BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Jobs = 2 }));
        Assert.Equal(ErrorKind.InvalidArgument, refused.Kind);
    }

    [Fact]
    public async Task Test_with_restore_compares_row_counts_and_alembic_and_drops_its_scratch_database()
    {
        await using var db = await ScratchDatabase.CreateAsync(3_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var result = await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions { Restore = true });
        Assert.Equal(Status.OK, result.Status);
        Assert.True(result.Restored);
        Assert.True(result.RowCountsMatch);
        Assert.True(result.AlembicVersionMatches);
        Assert.True(result.SanityQueryPassed);
        Assert.Empty(await db.DerivedDatabasesAsync());
        // The verdict is kept in the manifest, so Get-PuoBackup shows it.
        var reread = BackupStore.Read(backup.Path, null);
        Assert.True(reread.Verified);
        Assert.Equal("Restore", reread.LastVerification!.Level);

        // A manifest that disagrees with the data (as if rows went missing from the dump) is Critical.
        var manifest = BackupStore.ReadManifest(backup.ManifestPath)!;
        manifest.Tables = manifest.Tables.Select(t => new BackupTable { Schema = t.Schema, Name = t.Name, Rows = t.Rows + 1 }).ToList();
        BackupStore.WriteManifest(backup.ManifestPath, manifest);
        var mismatch = await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions { Restore = true });
        Assert.Equal(Status.Critical, mismatch.Status);
        Assert.False(mismatch.RowCountsMatch);
        Assert.Contains(mismatch.Mismatches, m => m.Contains("memories", StringComparison.Ordinal));
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    [Fact]
    public async Task A_backup_older_than_max_age_is_critical()
    {
        await using var db = await ScratchDatabase.CreateAsync(500);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var fresh = await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions { MaxAge = TimeSpan.FromHours(1) });
        Assert.Equal(Status.OK, fresh.Status);
        var stale = await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions { MaxAge = TimeSpan.FromMilliseconds(1) });
        Assert.Equal(Status.Critical, stale.Status);
        Assert.Contains("MaxAge", stale.Message);
    }

    [Theory]
    [InlineData("truncate")]
    [InlineData("corrupt")]
    public async Task A_damaged_backup_is_critical_and_restore_refuses_it_before_touching_anything(string damage)
    {
        await using var db = await ScratchDatabase.CreateAsync(5_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var before = await db.FingerprintAsync();
        var bytes = File.ReadAllBytes(backup.Path);
        if (damage == "truncate")
            File.WriteAllBytes(backup.Path, bytes[..(bytes.Length / 2)]);
        else
        {
            bytes[bytes.Length / 2] ^= 0xFF;
            File.WriteAllBytes(backup.Path, bytes);
        }

        var test = await BackupVerifier.TestAsync(Context(env), backup.Path, new BackupTestOptions { Restore = true });
        Assert.Equal(Status.Critical, test.Status);
        Assert.False(test.ChecksumMatches);
        Assert.Null(test.Restored);

        var refused = await Assert.ThrowsAsync<PuoException>(() => RestoreService.RestoreAsync(Context(env), BackupStore.Read(backup.Path, null), new RestoreOptions()));
        Assert.Equal("PuoOps.Backup.Corrupt", refused.ErrorId);
        Assert.Equal(before, await db.FingerprintAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    [Fact]
    public async Task Restore_swaps_in_the_verified_copy_and_keeps_the_previous_database()
    {
        await using var db = await ScratchDatabase.CreateAsync(4_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var atBackup = await db.FingerprintAsync();
        await db.ExecuteAsync("INSERT INTO audit_logs (action) VALUES ('after.backup'); UPDATE alembic_version SET version_num = 'bbbbbbbbbbbb'");
        var changed = await db.FingerprintAsync();
        // An application connection to the database being replaced: terminated only for the swap.
        await using var app = new Npgsql.NpgsqlConnection(db.ConnectionString);
        await app.OpenAsync();

        var result = await RestoreService.RestoreAsync(Context(env), backup, new RestoreOptions { Jobs = 2 });
        Assert.True(result.Verified);
        Assert.Equal(db.Name, result.Database);
        Assert.Equal(atBackup, await db.FingerprintAsync());
        Assert.Equal(ScratchDatabase.Alembic, result.AlembicVersion);
        Assert.Matches($@"^{db.Name}_before_restore_\d{{8}}T\d{{6}}(_\d+)?$", result.PreviousDatabase);
        Assert.Equal(changed, await db.FingerprintAsync(result.PreviousDatabase));
        Assert.Equal(new[] { result.PreviousDatabase! }, await db.DerivedDatabasesAsync());

        var dropped = await RestoreService.RestoreAsync(Context(env), backup, new RestoreOptions { DropPrevious = true });
        Assert.True(dropped.PreviousDropped);
        Assert.Null(dropped.PreviousDatabase);
        Assert.Equal(new[] { result.PreviousDatabase! }, await db.DerivedDatabasesAsync());
        // The environment's own pool survived the swap: its next query reaches the restored database.
        var version = await MigrationService.GetVersionAsync(Context(env));
        Assert.Equal(ScratchDatabase.Alembic, version.Version);
    }

    /// <summary>What pg_dump leaves out, read straight from the catalogs: owner, encoding, locale, limit, privileges, comment, settings.</summary>
    private static async Task<string> DatabasePropertiesAsync(ScratchDatabase db) =>
        (string)(await db.ScalarAsync($"""
            SELECT concat_ws(' | ', pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, d.datconnlimit,
                   (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(d.datacl) a), shobj_description(d.oid, 'pg_database'),
                   (SELECT string_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '*') || ':' || array_to_string(s.setconfig, ';'), ' ' ORDER BY s.setrole)
                    FROM pg_db_role_setting s WHERE s.setdatabase = d.oid))
            FROM pg_database d WHERE d.datname = '{db.Name}'
            """, "postgres"))!;

    [Fact]
    public async Task A_restored_database_keeps_the_owner_locale_privileges_and_settings_pg_dump_leaves_out()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (owner, reader) = ($"puo_app_{suffix}", $"puo ro'le \"{suffix}\"");
        string Quote(string role) => "\"" + role.Replace("\"", "\"\"") + "\"";
        await ScratchDatabase.AdminAsync($"CREATE ROLE {Quote(owner)}; CREATE ROLE {Quote(reader)}");
        try
        {
            await using (var db = await ScratchDatabase.CreateAsync(1_000, "TEMPLATE template0 LC_COLLATE 'C.utf8' LC_CTYPE 'C.utf8'"))
            {
                using var env = db.Environment();
                await ScratchDatabase.AdminAsync($"""
                    ALTER DATABASE {db.Name} OWNER TO {Quote(owner)};
                    REVOKE ALL ON DATABASE {db.Name} FROM PUBLIC;
                    GRANT CONNECT ON DATABASE {db.Name} TO {Quote(reader)} WITH GRANT OPTION;
                    ALTER DATABASE {db.Name} CONNECTION LIMIT 40;
                    COMMENT ON DATABASE {db.Name} IS 'PUO memo store, don''t drop';
                    ALTER DATABASE {db.Name} SET search_path TO "$user", public, "My Schema, too";
                    ALTER DATABASE {db.Name} SET statement_timeout TO '30s';
                    ALTER ROLE {Quote(reader)} IN DATABASE {db.Name} SET work_mem TO '8MB';
                    """);
                var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
                var atBackup = await DatabasePropertiesAsync(db);
                Assert.Contains("C.utf8", atBackup);
                Assert.Contains("My Schema, too", atBackup);

                // Changed since the backup: the restored database keeps what the database it replaces has now.
                await ScratchDatabase.AdminAsync($"ALTER DATABASE {db.Name} SET statement_timeout TO '45s'");
                var now = await DatabasePropertiesAsync(db);
                var replaced = await RestoreService.RestoreAsync(Context(env), backup, new RestoreOptions { Jobs = 2 });
                Assert.Equal(now, await DatabasePropertiesAsync(db));
                Assert.Contains("privileges and settings of the database it replaced", replaced.Message);

                // The database is gone (disaster recovery): the restored one gets them from the manifest.
                foreach (var name in (await db.DerivedDatabasesAsync()).Append(db.Name))
                    await ScratchDatabase.AdminAsync($"DROP DATABASE \"{name}\" WITH (FORCE)");
                var recovered = await RestoreService.RestoreAsync(Context(env), backup, new RestoreOptions());
                Assert.Equal(atBackup, await DatabasePropertiesAsync(db));
                Assert.Contains($"of {db.Name} when it was backed up", recovered.Message);

                // A role they name is missing here: refused before any database is created.
                await ScratchDatabase.AdminAsync($"DROP DATABASE {db.Name} WITH (FORCE); DROP ROLE {Quote(reader)}");
                var refused = await Assert.ThrowsAsync<PuoException>(() => RestoreService.RestoreAsync(Context(env), backup, new RestoreOptions()));
                Assert.Equal("PuoOps.Backup.MissingRoles", refused.ErrorId);
                Assert.Contains(reader, refused.Message);
                Assert.Empty(await db.DerivedDatabasesAsync());
                Assert.Equal(0L, await db.ScalarAsync($"SELECT count(*) FROM pg_database WHERE datname = '{db.Name}'", "postgres"));
            }
        }
        finally
        {
            await ScratchDatabase.AdminAsync($"DROP ROLE IF EXISTS {Quote(owner)}; DROP ROLE IF EXISTS {Quote(reader)}");
        }
    }

    [Theory]
    [InlineData("restore")]
    [InlineData("verify")]
    [InlineData("swap")]
    public async Task Interrupting_a_restore_at_any_stage_leaves_the_original_untouched_and_no_scratch_database(string stage)
    {
        await using var db = await ScratchDatabase.CreateAsync(150_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        await db.ExecuteAsync("INSERT INTO audit_logs (action) VALUES ('after.backup')");
        var before = await db.FingerprintAsync();
        using var interrupt = new CancellationTokenSource();
        var reached = false;

        async Task Hook(string at, CancellationToken token)
        {
            if (at != stage)
                return;
            reached = true;
            if (at == "restore")
                await WaitForPgRestoreAsync(db);
            interrupt.Cancel();
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            RestoreService.RestoreAsync(Context(env, interrupt.Token), backup, new RestoreOptions(), Hook));
        Assert.True(reached);
        Assert.Equal(before, await db.FingerprintAsync());
        Assert.Empty(await db.WaitForNoScratchAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());
        Assert.DoesNotContain(Process.GetProcessesByName("pg_restore"), p => IsOurs(p, db.Name));
    }

    /// <summary>Flips one byte of the backup file and returns the range the manifest's chunk containing it covers, as errors name it.</summary>
    private static async Task<string> DamageAsync(DatabaseBackup backup, long offset)
    {
        await using (var file = new FileStream(backup.Path, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = offset;
            var value = file.ReadByte();
            file.Position = offset;
            file.WriteByte((byte)(value ^ 0xFF));
        }
        var chunk = Assert.Single(backup.Chunks!, c => c.Offset <= offset && offset < c.Offset + c.Length);
        return $"bytes {chunk.Offset:N0}-{chunk.Offset + chunk.Length - 1:N0}";
    }

    [Theory]
    [InlineData("Restore-PuoBackup")]
    [InlineData("Test-PuoBackup -Restore")]
    public async Task Damage_the_checksum_finds_while_pg_restore_runs_stops_it_and_leaves_the_original_and_no_scratch_database(string run)
    {
        await using var db = await ScratchDatabase.CreateAsync(150_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        await db.ExecuteAsync("INSERT INTO audit_logs (action) VALUES ('after.backup')");
        var before = await db.FingerprintAsync();
        // Near the end of the file: memories' data, which pg_restore reads last, so it has not failed on the damage itself.
        var range = await DamageAsync(backup, new FileInfo(backup.Path).Length - 100);
        var log = new List<string>();
        var restoring = run == "Restore-PuoBackup";
        var pgRestoreRan = false;

        // The checksum starts only once pg_restore runs: whatever it finds, it finds beside pg_restore.
        async Task Hook(string at, CancellationToken token)
        {
            if (at == "checksum")
                pgRestoreRan = await WaitForPgRestoreAsync(db, restoring ? "restore" : "verify");
        }

        if (restoring)
        {
            var refused = await Assert.ThrowsAsync<PuoException>(() =>
                RestoreService.RestoreAsync(Context(env, log: log), BackupStore.Read(backup.Path, null), new RestoreOptions(), Hook));
            Assert.Equal("PuoOps.Backup.Corrupt", refused.ErrorId);
            Assert.Equal(ErrorKind.InvalidOperation, refused.Kind);
            Assert.Contains(range, refused.Message);
            Assert.Contains("nothing was changed", refused.Message);
        }
        else
        {
            var test = await BackupVerifier.TestAsync(Context(env, log: log), backup.Path, new BackupTestOptions { Restore = true }, Hook);
            Assert.Equal(Status.Critical, test.Status);
            Assert.False(test.ChecksumMatches);
            Assert.Null(test.Restored);
            Assert.Contains(range, test.Message);
        }
        Assert.True(pgRestoreRan);
        Assert.Contains(log, l => l.Contains("stopping the restore", StringComparison.Ordinal));
        Assert.Equal(before, await db.FingerprintAsync());
        Assert.Empty(await db.WaitForNoScratchAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());
        Assert.DoesNotContain(Process.GetProcessesByName("pg_restore"), p => IsOurs(p, db.Name));
    }

    [Fact]
    public async Task Killing_pg_restore_while_the_checksum_runs_beside_it_gives_a_clear_error_and_leaves_the_original_and_no_scratch_database()
    {
        await using var db = await ScratchDatabase.CreateAsync(150_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        await db.ExecuteAsync("INSERT INTO audit_logs (action) VALUES ('after.backup')");
        var before = await db.FingerprintAsync();
        var killed = false;

        // pg_restore gets SIGKILL before the checksum has read a byte; the checksum then finds the backup intact.
        async Task Hook(string at, CancellationToken token)
        {
            if (at != "checksum" || !await WaitForPgRestoreAsync(db))
                return;
            using var pgRestore = Process.GetProcessesByName("pg_restore").Single(p => IsOurs(p, db.Name));
            pgRestore.Kill();
            await pgRestore.WaitForExitAsync(token);
            killed = true;
        }

        var failed = await Assert.ThrowsAsync<PuoException>(() => RestoreService.RestoreAsync(Context(env), backup, new RestoreOptions(), Hook));
        Assert.True(killed);
        Assert.Equal("PuoOps.Backup.RestoreFailed", failed.ErrorId);
        Assert.Contains("killed by signal 9", failed.Message);
        Assert.Contains($"{db.Name} was left as it was", failed.Message);
        Assert.Equal(before, await db.FingerprintAsync());
        Assert.Empty(await db.WaitForNoScratchAsync());
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Tables_pg_restore_is_done_with_are_counted_while_it_still_runs(int jobs)
    {
        await using var db = await ScratchDatabase.CreateAsync(150_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var log = new List<string>();
        var countedEarly = false;

        // Holds pg_restore back with a SHARE lock on memories in the scratch database, taken as soon as pg_restore loads
        // data (a lock taken before, between CREATE TABLE and the column default pg_restore sets next, would stall all of
        // it): memories' load or its primary key waits, so pg_restore cannot finish until audit_logs, which it is done
        // with, has been counted. Everything is waited for by condition with a deadline, never by a fixed time.
        async Task Hook(string at, CancellationToken token)
        {
            if (at != "restore")
                return;
            var scratch = Assert.Single(await db.DerivedDatabasesAsync());
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString) { Database = scratch };
            await using var holder = new Npgsql.NpgsqlConnection(builder.ConnectionString);
            await holder.OpenAsync(token);
            Assert.True(await WaitForLogAsync(log, "processing data for table", token), "pg_restore loaded no data within a minute");
            await using var transaction = await holder.BeginTransactionAsync(token);
            await using var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE memories IN SHARE MODE", holder, transaction);
            await lockTable.ExecuteNonQueryAsync(token);
            countedEarly = await WaitForLogAsync(log, "Counted public.audit_logs while pg_restore runs", token);
        }

        var result = await RestoreService.RestoreAsync(Context(env, log: log), backup, new RestoreOptions { Jobs = jobs }, Hook);
        Assert.True(countedEarly);
        Assert.True(result.Verified);
        Assert.Equal(150_000L, result.RowCounts["public.memories"]);
        Assert.Equal(15_000L, result.RowCounts["public.audit_logs"]);
        Assert.Equal(1L, result.RowCounts["public.alembic_version"]);
    }

    [Fact]
    public async Task Orphaned_scratch_databases_are_dropped_by_the_next_restore_test_but_one_a_live_run_holds_is_not()
    {
        await using var db = await ScratchDatabase.CreateAsync(1_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var ctx = Context(env);
        await using var admin = await PostgresConnections.OpenDatabaseAsync(ctx, "postgres");
        // Left by a run whose process died: marked, and nobody holds its lock.
        var orphan = ScratchDatabases.NewName(db.Name, "restore");
        await ScratchDatabases.CreateAsync(ctx, admin, orphan, "test orphan", null);
        // A live run's: its lock is held (here by this test) for as long as the database exists.
        var live = ScratchDatabases.NewName(db.Name, "verify");
        await using var hold = await ScratchDatabases.HoldAsync(ctx, live, null);
        await ScratchDatabases.CreateAsync(ctx, admin, live, "test live run", null);
        // Named like one but not marked as ours (someone's own database): never touched.
        var foreign = ScratchDatabases.NewName(db.Name, "verify");
        await DatabaseAdmin.ExecuteAsync(admin, $"CREATE DATABASE {foreign}", CancellationToken.None);

        var listed = await ScratchDatabases.DropOrphansAsync(ctx, dryRun: true);
        Assert.DoesNotContain(live, listed);
        Assert.DoesNotContain(foreign, listed);
        // (A restore of a parallel test may already have dropped the orphan: that is the feature too.)
        var afterDryRun = await db.DerivedDatabasesAsync();
        Assert.True(listed.Contains(orphan) || !afterDryRun.Contains(orphan));
        Assert.Contains(live, afterDryRun);

        var log = new List<string>();
        var test = await BackupVerifier.TestAsync(Context(env, log: log), backup.Path, new BackupTestOptions { Restore = true });
        Assert.Equal(Status.OK, test.Status);
        Assert.Equal(new[] { foreign, live }.Order(StringComparer.Ordinal), await db.DerivedDatabasesAsync());
        Assert.Contains(log, l => l.Contains(live, StringComparison.Ordinal) && l.Contains("still in progress", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_guard_drops_a_scratch_database_whose_holder_went_away_without_dropping_it()
    {
        await using var db = await ScratchDatabase.CreateAsync(100);
        using var env = db.Environment();
        var ctx = Context(env);
        await using var admin = await PostgresConnections.OpenDatabaseAsync(ctx, "postgres");
        var scratch = ScratchDatabases.NewName(db.Name, "restore");
        var hold = await ScratchDatabases.HoldAsync(ctx, scratch, null);
        await ScratchDatabases.CreateAsync(ctx, admin, scratch, "test of the guard", null);
        // A connection to the scratch database, like the pg_restore a killed run leaves running.
        await using var restoring = await PostgresConnections.OpenDatabaseAsync(ctx, scratch);
        Assert.Contains(scratch, await db.DerivedDatabasesAsync());

        // The lock's session ends without the database being dropped, as when the run's process is killed.
        await hold.DisposeAsync();
        Assert.Empty(await db.WaitForNoScratchAsync());
        await Assert.ThrowsAnyAsync<Npgsql.NpgsqlException>(() => DatabaseAdmin.ExecuteAsync(restoring, "SELECT 1", CancellationToken.None));
    }

    [Fact]
    public async Task A_full_disk_gives_a_clear_error_and_leaves_no_file_under_the_final_name()
    {
        await using var db = await ScratchDatabase.CreateAsync(60_000);
        using var env = db.Environment();
        var mount = Path.Combine(db.Directory, "small");
        Directory.CreateDirectory(mount);
        var mounted = await RunAsync("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mount) == 0; // tmpfs is 1777 by default, which a backup refuses
        try
        {
            if (!mounted)
                // No tmpfs (not root): a directory nobody may write to.
                File.SetUnixFileMode(mount, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            var error = await Assert.ThrowsAsync<PuoException>(() => BackupService.BackupAsync(Context(env), new BackupOptions { Directory = mount }));
            Assert.Equal(mounted ? "PuoOps.Backup.DiskFull" : "PuoOps.Backup.DirectoryNotWritable", error.ErrorId);
            Assert.Contains(mount, error.Message);
            Assert.Empty(Directory.GetFileSystemEntries(mount));
        }
        finally
        {
            if (mounted)
                await RunAsync("umount", mount);
        }
    }

    [Fact]
    public async Task Cancelling_a_backup_kills_pg_dump_and_leaves_no_file()
    {
        await using var db = await ScratchDatabase.CreateAsync(150_000);
        using var env = db.Environment();
        using var interrupt = new CancellationTokenSource();
        var backup = BackupService.BackupAsync(Context(env, interrupt.Token), new BackupOptions { Directory = db.Directory });
        for (var i = 0; i < 200 && !backup.IsCompleted; i++)
        {
            var running = await db.ScalarAsync($"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'PuoOps pg_dump' AND datname = '{db.Name}'", "postgres");
            if (running is long and > 0)
                break;
            await Task.Delay(25);
        }
        interrupt.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => backup);
        Assert.Empty(Directory.GetFileSystemEntries(db.Directory));
        Assert.DoesNotContain(Process.GetProcessesByName("pg_dump"), p => IsOurs(p, db.Name));
    }

    [Fact]
    public async Task A_failing_output_reader_kills_the_child_and_its_error_comes_back()
    {
        // `yes` writes forever: without the kill, the child would block on the pipe and the call would hang.
        var pid = new TaskCompletionSource<int>();
        var read = 0L;
        var run = PgTools.RunAsync("/bin/sh", ["-c", "echo $$ >&2; exec yes backup"], new Dictionary<string, string?>(), null,
            (line, isError) => { if (isError) pid.TrySetResult(int.Parse(line, System.Globalization.CultureInfo.InvariantCulture)); },
            CancellationToken.None,
            output =>
            {
                var buffer = new byte[64 * 1024];
                while ((read += output.Read(buffer)) < 4 << 20)
                {
                }
                throw new IOException("No space left on device (simulated)");
            });
        var error = await Assert.ThrowsAsync<IOException>(() => run);
        Assert.Contains("No space left", error.Message);
        Assert.True(read >= 4 << 20);
        Assert.False(Directory.Exists($"/proc/{await pid.Task}"));
    }

    [Fact]
    public async Task Cancelling_a_child_whose_output_is_read_as_data_kills_it_and_waits_for_the_reader()
    {
        var pid = new TaskCompletionSource<int>();
        var readerEnded = false;
        using var cancel = new CancellationTokenSource();
        var run = PgTools.RunAsync("/bin/sh", ["-c", "echo $$ >&2; exec yes backup"], new Dictionary<string, string?>(), null,
            (line, isError) => { if (isError) pid.TrySetResult(int.Parse(line, System.Globalization.CultureInfo.InvariantCulture)); },
            cancel.Token,
            output =>
            {
                output.CopyTo(Stream.Null);
                readerEnded = true;
            });
        var child = await pid.Task;
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.True(readerEnded);
        Assert.False(Directory.Exists($"/proc/{child}"));
    }

    [Fact]
    public void Tools_are_found_in_PgBinPath_then_on_PATH_then_in_the_distributions_folders_and_a_missing_one_is_named()
    {
        var root = Path.Combine(Path.GetTempPath(), "puo-pgroot-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            // Distribution folders: one per major version (Debian's /usr/lib/postgresql/NN/bin, RHEL's /usr/pgsql-NN/bin).
            foreach (var folder in new[] { "lib/13/bin", "lib/15/bin", "pgsql-16/bin" })
                FakeTool(Path.Combine(root, folder), "pg_dump", 0);
            string[] distribution = [Path.Combine(root, "lib", "{0}", "bin"), Path.Combine(root, "pgsql-{0}", "bin")];
            var onPath = FakeTool(Path.Combine(root, "path"), "pg_dump", 14);

            // PATH first when its tool is new enough; otherwise the distribution's folder of that version or the next newer.
            Assert.Equal(onPath, PgTools.Locate("pg_dump", 14, null, [Path.GetDirectoryName(onPath)!], distribution));
            Assert.Equal(Path.Combine(root, "lib", "15", "bin", "pg_dump"), PgTools.Locate("pg_dump", 15, null, [Path.GetDirectoryName(onPath)!], distribution));
            Assert.Equal(Path.Combine(root, "pgsql-16", "bin", "pg_dump"), PgTools.Locate("pg_dump", 16, null, [], distribution));
            // -PgBinPath wins over both, and is checked.
            var given = FakeTool(Path.Combine(root, "given"), "pg_dump", 17);
            Assert.Equal(given, PgTools.Locate("pg_dump", 16, Path.GetDirectoryName(given), [Path.GetDirectoryName(onPath)!], distribution));
            Assert.Equal("PuoOps.Backup.ToolTooOld", Assert.Throws<PuoException>(() => PgTools.Locate("pg_dump", 18, Path.GetDirectoryName(given), [], distribution)).ErrorId);

            // Debian's pg_wrapper link on PATH is passed over for the folder it would run the tool from.
            var wrapperFolder = Path.Combine(root, "debian-bin");
            FakeTool(Path.Combine(root, "share"), "pg_wrapper", 17);
            Directory.CreateDirectory(wrapperFolder);
            File.CreateSymbolicLink(Path.Combine(wrapperFolder, "pg_dump"), Path.Combine(root, "share", "pg_wrapper"));
            Assert.Equal(Path.Combine(root, "lib", "15", "bin", "pg_dump"), PgTools.Locate("pg_dump", 15, null, [wrapperFolder], distribution));

            var missing = Assert.Throws<PuoException>(() => PgTools.Locate("pg_dump", 17, null, [Path.GetDirectoryName(onPath)!], distribution));
            Assert.Equal(ErrorKind.NotFound, missing.Kind);
            Assert.Contains("postgresql-client-17", missing.Message);
            Assert.Contains("-PgBinPath", missing.Message);
            Assert.Contains($"{onPath} (14)", missing.Message);
            Assert.Contains(Path.Combine(root, "pgsql-16", "bin", "pg_dump") + " (16)", missing.Message);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        // A stand-in that answers --version like the real tool (0: it cannot run, the folder's name says the version).
        static string FakeTool(string folder, string name, int major)
        {
            Directory.CreateDirectory(folder);
            var path = Path.Combine(folder, name);
            File.WriteAllText(path, major == 0 ? "" : $"#!/bin/sh\necho '{name} (PostgreSQL) {major}.2'\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return path;
        }
    }

    [Fact]
    public async Task A_trial_restore_longer_than_RestoreTimeout_is_stopped_and_leaves_no_scratch_database()
    {
        await using var db = await ScratchDatabase.CreateAsync(2_000);
        using var env = db.Environment();
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var stopped = await Assert.ThrowsAsync<PuoException>(() => BackupVerifier.TestAsync(Context(env), backup.Path,
            new BackupTestOptions { Restore = true, RestoreTimeout = TimeSpan.FromMilliseconds(1) }));
        Assert.Equal(ErrorKind.Timeout, stopped.Kind);
        Assert.Equal("PuoOps.Backup.RestoreTimeout", stopped.ErrorId);
        Assert.Empty(await db.DerivedDatabasesAsync());
    }

    [Fact]
    public async Task Keep_lists_only_older_backups_of_the_same_database_and_scope()
    {
        await using var db = await ScratchDatabase.CreateAsync(200);
        using var env = db.Environment();
        var first = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var partial = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory, Tables = ["audit_logs"] });
        var second = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var third = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var expired = BackupStore.Expired(db.Directory, third, 2, null);
        Assert.Equal(new[] { first.Path }, expired.Select(b => b.Path));
        Assert.Empty(BackupStore.Expired(db.Directory, partial, 1, null));
        Assert.Equal(third.Path, BackupStore.Latest(db.Directory, db.Name, null).Path);
        Assert.NotEqual(second.Path, third.Path);
    }

    [Fact]
    public async Task Disk_space_estimates_the_next_backup_from_the_last_one()
    {
        await using var db = await ScratchDatabase.CreateAsync(2_000);
        using var env = db.Environment();
        var none = await DiskSpaceService.TestAsync(Context(env), db.Directory, 99, 100);
        Assert.Null(none.LastBackupSizeBytes);
        Assert.Equal(none.DatabaseSizeBytes, none.EstimatedBackupBytes);
        Assert.True(none.NextBackupFits);
        var backup = await BackupService.BackupAsync(Context(env), new BackupOptions { Directory = db.Directory });
        var space = await DiskSpaceService.TestAsync(Context(env), db.Directory, 99, 100);
        Assert.Equal(backup.SizeBytes, space.LastBackupSizeBytes);
        Assert.InRange(space.EstimatedBackupBytes!.Value, backup.SizeBytes, backup.SizeBytes * 2);
        Assert.True(space.FreeBytes > 0);
        Assert.NotEqual(Status.Unknown, space.Status);

        var mount = Path.Combine(db.Directory, "tiny");
        Directory.CreateDirectory(mount);
        if (await RunAsync("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount) != 0)
            return; // not root: the full-disk half needs a tmpfs
        try
        {
            var full = await DiskSpaceService.TestAsync(Context(env), mount, 99, 100);
            Assert.False(full.NextBackupFits);
            Assert.Equal(Status.Critical, full.Status);
            Assert.Equal(mount, full.MountPoint.TrimEnd('/'));
        }
        finally
        {
            await RunAsync("umount", mount);
        }
    }

    [Fact]
    public async Task Migration_runs_the_command_with_the_environments_database_and_checks_the_reported_revision()
    {
        await using var db = await ScratchDatabase.CreateAsync(500);
        using var env = db.Environment();
        var log = new List<string>();
        var ctx = Context(env, log: log);
        var run = MigrationService.Start(ctx);
        await MigrationService.BackupAsync(ctx, run, db.Directory, null);
        Assert.NotNull(run.BackupPath);
        const string command = "echo \"url=$DATABASE_URL\" && psql -X -q -c \"UPDATE alembic_version SET version_num = 'c0ffee000001'\" && echo 'INFO  [alembic.runtime.migration] Running upgrade a1b2c3d4e5f6 -> c0ffee000001, add things'";
        await MigrationService.MigrateAsync(ctx, run, command, db.Directory, null, TimeSpan.FromMinutes(5));
        Assert.Equal("c0ffee000001", run.ReportedVersion);
        Assert.Equal("c0ffee000001", run.VersionAfter);
        Assert.Equal(ScratchDatabase.Alembic, run.VersionBefore);
        Assert.Equal(new[] { "Backup", "VerifyBackup", "Migrate", "CheckVersion" }, run.Steps.Select(s => s.Name));
        Assert.All(run.Steps, s => Assert.Equal(Status.OK, s.Status));
        Assert.Contains(log, l => l.Contains("Running upgrade", StringComparison.Ordinal));
        // The command gets the environment's DATABASE_URL; its output never shows the password.
        Assert.Contains(log, l => l.StartsWith($"url=postgresql://puo:***@127.0.0.1:{Sandbox.Current.PostgresPort}/{db.Name}", StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.Contains(Sandbox.Current.PostgresPassword, StringComparison.Ordinal));

        // A command that reports one revision but leaves another fails the check.
        var second = MigrationService.Start(ctx);
        await MigrationService.BackupAsync(ctx, second, db.Directory, null);
        var failed = await Assert.ThrowsAsync<PuoException>(() => MigrationService.MigrateAsync(ctx, second, "echo 'Running upgrade c0ffee000001 -> d00d00000002, nothing'", db.Directory, null, TimeSpan.FromMinutes(5)));
        Assert.Contains("d00d00000002", failed.Message);
        Assert.Equal(Status.Critical, second.Steps.Last().Status);
        var error = MigrationService.Failed(second, failed);
        Assert.Contains(second.BackupPath!, error.Message);
        Assert.Contains("Restore-PuoBackup", error.Message);

        // A command that hangs is stopped at -CommandTimeout, its own wait (not -TimeoutSec), and the step says so.
        var third = MigrationService.Start(ctx);
        await MigrationService.BackupAsync(ctx, third, db.Directory, null);
        var hung = await Assert.ThrowsAsync<PuoException>(() => MigrationService.MigrateAsync(ctx, third, "sleep 60", db.Directory, null, TimeSpan.FromSeconds(1)));
        Assert.Equal(ErrorKind.Timeout, hung.Kind);
        Assert.Equal("PuoOps.Backup.MigrationTimeout", hung.ErrorId);
        Assert.Equal(Status.Critical, third.Steps.Last().Status);
    }

    /// <summary>Waits up to a minute for a line of the log that contains <paramref name="text"/>; false if none came.</summary>
    private static async Task<bool> WaitForLogAsync(List<string> log, string text, CancellationToken token)
    {
        for (var deadline = DateTime.UtcNow.AddMinutes(1); DateTime.UtcNow < deadline; await Task.Delay(10, token))
            lock (log)
                if (log.Any(l => l.Contains(text, StringComparison.Ordinal)))
                    return true;
        return false;
    }

    /// <summary>Waits (bounded) until a pg_restore of this database's restore (or, with "verify", restore test) is connected; false if none came.</summary>
    internal static async Task<bool> WaitForPgRestoreAsync(ScratchDatabase db, string purpose = "restore")
    {
        for (var i = 0; i < 200; i++)
        {
            var running = await db.ScalarAsync(
                $"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'PuoOps pg_restore' AND datname LIKE '{db.Name}\\_{purpose}\\_%'", "postgres");
            if (running is long and > 0)
                return true;
            await Task.Delay(25);
        }
        return false;
    }

    internal static bool IsOurs(Process process, string database)
    {
        try
        {
            return File.ReadAllText($"/proc/{process.Id}/cmdline").Contains(database, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    internal static async Task<string> PgRestoreListAsync(string path)
    {
        using var process = Process.Start(new ProcessStartInfo(Path.Combine(Sandbox.Current.PostgresBinDir, "pg_restore"), ["--list", path]) { RedirectStandardOutput = true })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    internal static async Task<int> RunAsync(string file, params string[] arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            await process.WaitForExitAsync();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
