using Npgsql;
using PuoOps.Engine;
using PuoOps.Engine.Postgres;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Postgres;

/// <summary>The maintenance and query-performance services against the seeded sandbox, each on its own scratch tables.</summary>
public sealed class PostgresMaintenanceTests
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (var item in items)
            list.Add(item);
        return list;
    }

    [Fact]
    public async Task Vacuum_removes_the_dead_tuples_an_update_left()
    {
        await using var scratch = await Scratch.CreateAsync(2000);
        await scratch.ExecAsync($"UPDATE {scratch.Name} SET val = val + 1");
        await scratch.WaitForDeadTuplesAsync(2000);
        using var env = TestEnvironments.Sandbox();
        var table = Assert.Single(await PostgresRelations.ResolveTablesAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, scratch.Name)));
        var options = new VacuumOptions(Full: false, Analyze: true, SkipLocked: false, Parallel: null, LockTimeout);

        var first = await VacuumService.VacuumAsync(TestEnvironments.Context(env), table, options);
        Assert.Equal("VACUUM (ANALYZE)", first.Operation);
        Assert.True(first.DeadTuplesBefore >= 2000, $"before: {first.DeadTuplesBefore}");
        Assert.Equal(2000, first.LiveTuples);
        // Another test's open snapshot in the same database can keep dead rows visible for a moment; retry, bounded.
        var result = first;
        for (var i = 0; i < 20 && result.DeadTuplesAfter > 0; i++)
        {
            await Task.Delay(500);
            result = await VacuumService.VacuumAsync(TestEnvironments.Context(env), table, options);
        }
        Assert.Equal(0, result.DeadTuplesAfter);
        Assert.False(result.Skipped);
    }

    [Fact]
    public async Task Vacuum_full_rewrites_and_skip_locked_skips_a_locked_table()
    {
        await using var scratch = await Scratch.CreateAsync(5000);
        await scratch.ExecAsync($"DELETE FROM {scratch.Name} WHERE id > 500");
        using var env = TestEnvironments.Sandbox();
        var table = new TableTarget("public", scratch.Name);
        var full = await VacuumService.VacuumAsync(TestEnvironments.Context(env), table, new VacuumOptions(true, false, false, null, LockTimeout));
        Assert.Equal("VACUUM (FULL)", full.Operation);
        Assert.True(full.SizeBytesAfter < full.SizeBytesBefore, $"{full.SizeBytesBefore} -> {full.SizeBytesAfter}");

        await using var holder = await SlowSession.StartAsync($"BEGIN; LOCK TABLE {scratch.Name} IN ACCESS EXCLUSIVE MODE;");
        var skipped = await VacuumService.VacuumAsync(TestEnvironments.Context(env), table, new VacuumOptions(false, false, true, null, LockTimeout));
        Assert.True(skipped.Skipped);
        Assert.Equal(-1, skipped.SizeBytesBefore);
        var timedOut = await Assert.ThrowsAsync<PostgresException>(() =>
            VacuumService.VacuumAsync(TestEnvironments.Context(env), table, new VacuumOptions(false, false, false, null, TimeSpan.FromMilliseconds(300))));
        var translated = ErrorTranslator.Translate(timedOut, env);
        Assert.Equal(ErrorKind.ResourceUnavailable, translated.Kind);
        Assert.Equal("PuoOps.Postgres.LockTimeout", translated.ErrorId);
    }

    [Fact]
    public void Bad_vacuum_options_are_refused_before_anything_is_sent()
    {
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => new VacuumOptions(true, false, false, 2, LockTimeout).Validate()).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => new VacuumOptions(false, false, false, null, TimeSpan.Zero).Validate()).Kind);
        Assert.Equal("VACUUM (ANALYZE, SKIP_LOCKED, PARALLEL 2)", new VacuumOptions(false, true, true, 2, LockTimeout).Statement);
    }

    [Fact]
    public async Task Hostile_names_are_names_that_do_not_exist_and_a_quoted_odd_name_works()
    {
        await using var canary = await Scratch.CreateAsync(10, "xunit_canary_");
        using var env = TestEnvironments.Sandbox();
        var ctx = TestEnvironments.Context(env);
        foreach (var hostile in new[] { $"memories\"; DROP TABLE {canary.Name}; --", $"{canary.Name}; DROP TABLE {canary.Name}", "x' OR '1'='1" })
        {
            Assert.Equal(ErrorKind.NotFound, (await Assert.ThrowsAsync<PuoException>(() => PostgresRelations.ResolveTablesAsync(ctx, RelationPattern.Parse(null, hostile)))).Kind);
            Assert.Equal(ErrorKind.NotFound, (await Assert.ThrowsAsync<PuoException>(() => PostgresRelations.ResolveIndexesAsync(ctx, RelationPattern.Parse(null, hostile)))).Kind);
        }
        Assert.Equal(10L, await canary.ScalarAsync<long>($"SELECT count(*) FROM {canary.Name}"));

        // A real table whose name needs quoting is vacuumed by its exact name.
        var odd = $"xunit \"odd\"; {Guid.NewGuid():N}"[..40];
        await canary.ExecAsync($"CREATE TABLE {SqlQuote.Identifier(odd)} (id int)");
        try
        {
            var table = Assert.Single(await PostgresRelations.ResolveTablesAsync(ctx, RelationPattern.Parse("public", odd)));
            var result = await VacuumService.AnalyzeAsync(ctx, table, false, LockTimeout);
            Assert.Equal(odd, result.Table);
        }
        finally
        {
            await canary.ExecAsync($"DROP TABLE {SqlQuote.Identifier(odd)}");
        }
    }

    [Fact]
    public void Table_patterns_take_the_schema_from_schema_dot_table_and_refuse_two_different_ones()
    {
        var qualified = RelationPattern.Parse(null, "pub*.mem`*");
        Assert.True(qualified.IsMatch("public", "mem*"));
        Assert.False(qualified.IsMatch("public", "memories"));
        Assert.False(qualified.IsLiteral);
        Assert.True(RelationPattern.Parse("public", "public.memories").IsLiteral);
        Assert.Equal("PuoOps.Postgres.TwoSchemas", Assert.Throws<PuoException>(() => RelationPattern.Parse("audit", "public.memories")).ErrorId);
        // A name carried by a record matches itself only, dots and wildcard characters included.
        var exact = RelationPattern.Exact("s", "dot.ted*");
        Assert.True(exact.IsMatch("S", "DOT.TED*"));
        Assert.False(exact.IsMatch("s", "dot.teddy"));
        Assert.True(RelationPattern.Parse("s", NamePattern.Escape("dot.ted*")).IsMatch("s", "dot.ted*"));
    }

    [Fact]
    public async Task Table_size_splits_heap_index_and_toast_and_sorts_largest_first()
    {
        await using var scratch = await Scratch.CreateAsync(3000);
        await scratch.ExecAsync($"INSERT INTO {scratch.Name} VALUES (0, 0, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 4000) g))");
        using var env = TestEnvironments.Sandbox();
        var mine = Assert.Single(await ToListAsync(TableSizeService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, scratch.Name), null)));
        Assert.Equal(await scratch.ScalarAsync<long>($"SELECT pg_total_relation_size('{scratch.Name}')"), mine.TotalBytes);
        Assert.Equal(mine.TotalBytes, mine.TableBytes + mine.IndexBytes + mine.ToastBytes);
        Assert.True(mine.ToastBytes > 0 && mine.IndexBytes > 0 && mine.TableBytes > 0);

        var all = await ToListAsync(TableSizeService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse("public", null), null));
        Assert.Equal(all.OrderByDescending(t => t.TotalBytes).Select(t => t.TotalBytes), all.Select(t => t.TotalBytes));
        Assert.Equal("memories", Assert.Single(await ToListAsync(TableSizeService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse("public", null), 1))).Table);
    }

    [Fact]
    public async Task Maintenance_status_flags_dead_tuples_and_ends_with_the_database_row()
    {
        await using var scratch = await Scratch.CreateAsync(4000);
        await scratch.ExecAsync($"UPDATE {scratch.Name} SET val = 0 WHERE id <= 2000");
        await scratch.WaitForDeadTuplesAsync(2000);
        using var env = TestEnvironments.Sandbox();
        var thresholds = new MaintenanceThresholds();
        var row = Assert.Single(await ToListAsync(MaintenanceStatusService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, scratch.Name), thresholds)));
        Assert.Equal(Status.Critical, row.Status);
        Assert.True(row.DeadPercent >= 30, $"dead% {row.DeadPercent}");
        Assert.Contains("Invoke-PuoVacuum", row.Message);
        Assert.True(row.XidAge > 0);

        var all = await ToListAsync(MaintenanceStatusService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, null), thresholds));
        var database = Assert.Single(all, s => s.Scope == "Database");
        Assert.Equal("puo_memo", database.Database);
        Assert.Null(database.Table);
        Assert.Equal(Status.OK, database.Status);
        Assert.Contains(all, s => s.Table == "memories");
        await Assert.ThrowsAsync<PuoException>(async () => await ToListAsync(
            MaintenanceStatusService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, null), thresholds with { DeadWarningPercent = 50, DeadCriticalPercent = 10 })));
    }

    [Fact]
    public async Task Definitions_built_from_the_catalog_match_pg_get_indexdef()
    {
        await using var scratch = await Scratch.CreateAsync(100);
        var t = scratch.Name;
        await scratch.ExecAsync($"""
            CREATE INDEX {t}_desc ON {t} (val DESC, id NULLS FIRST);
            CREATE INDEX {t}_desc_nl ON {t} (val DESC NULLS LAST);
            CREATE UNIQUE INDEX {t}_incl ON {t} (id) INCLUDE (note, val);
            CREATE INDEX "{t}_Mixed Case" ON {t} (note);
            CREATE INDEX {t}_partial ON {t} (val) WHERE val > 10;
            CREATE INDEX {t}_expr ON {t} (lower(note));
            CREATE INDEX {t}_ops ON {t} (note text_pattern_ops);
            CREATE INDEX {t}_hash ON {t} USING hash (val);
            """);
        using var env = TestEnvironments.Sandbox();
        var indexes = await ToListAsync(IndexUsageService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, null), RelationPattern.Parse(null, null), IndexUsageFilter.All, TimeSpan.Zero, false));
        Assert.True(indexes.Count(i => i.Table == t) == 9, string.Join(", ", indexes.Where(i => i.Table == t).Select(i => i.Index)));
        foreach (var index in indexes.Where(i => i.Table == t || i.Table is "memories" or "audit_logs" or "alembic_version"))
        {
            var expected = await scratch.ScalarAsync<string>(
                $"SELECT pg_get_indexdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{index.Schema}' AND c.relname = '{index.Index.Replace("'", "''")}'");
            Assert.Equal(expected, index.Definition);
        }
        var pk = Assert.Single(indexes, i => i.Index == t + "_pkey");
        Assert.True(pk.IsPrimary && pk.IsUnique && pk.IsConstraint);
        var incl = Assert.Single(indexes, i => i.Index == t + "_incl");
        Assert.True(incl.IsUnique && !incl.IsConstraint && !incl.IsPrimary);
    }

    [Fact]
    public async Task Unused_excludes_constraint_indexes_and_warns_on_young_statistics_unless_forced()
    {
        await using var scratch = await Scratch.CreateAsync(500);
        var t = scratch.Name;
        await scratch.ExecAsync($"CREATE INDEX {t}_val ON {t} (val); CREATE UNIQUE INDEX {t}_note ON {t} (note); ALTER TABLE {t} ADD CONSTRAINT {t}_val_uq UNIQUE (val, id);");
        using var env = TestEnvironments.Sandbox();
        foreach (var force in new[] { false, true })
        {
            var warnings = new List<string>();
            var ctx = new OperationContext(env, TimeSpan.FromSeconds(15), CancellationToken.None, warning: warnings.Add);
            var unused = await ToListAsync(IndexUsageService.GetAsync(ctx, RelationPattern.Parse(null, t), RelationPattern.Parse(null, null), IndexUsageFilter.Unused, TimeSpan.FromDays(7), force));
            var only = Assert.Single(unused);
            Assert.Equal(t + "_val", only.Index);
            Assert.Equal(0, only.Scans);
            Assert.True(only.StatsAge < TimeSpan.FromDays(7) && only.StatsSince is not null);
            if (force)
                Assert.Empty(warnings);
            else
                Assert.Contains("may be in use", Assert.Single(warnings));
        }
    }

    [Fact]
    public async Task Duplicate_and_invalid_indexes_are_found()
    {
        await using var scratch = await Scratch.CreateAsync(200);
        var t = scratch.Name;
        await scratch.ExecAsync($"CREATE INDEX {t}_a ON {t} (val, id); CREATE INDEX {t}_b ON {t} (val, id); CREATE INDEX {t}_c ON {t} (id, val); " +
                                $"CREATE INDEX {t}_n ON {t} (note); UPDATE {t} SET note = 'same'");
        // A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index behind, with the same key as the valid {t}_n:
        // it is no duplicate of {t}_n (it serves nothing), only invalid.
        await Assert.ThrowsAsync<PostgresException>(() => scratch.ExecAsync($"CREATE UNIQUE INDEX CONCURRENTLY {t}_bad ON {t} (note)"));
        using var env = TestEnvironments.Sandbox();
        var duplicates = await ToListAsync(IndexUsageService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, t), RelationPattern.Parse(null, null), IndexUsageFilter.Duplicate, TimeSpan.Zero, false));
        Assert.Equal([t + "_a", t + "_b"], duplicates.Select(d => d.Index).Order().ToArray());
        Assert.Equal([t + "_b"], duplicates.Single(d => d.Index == t + "_a").DuplicateOf);
        var invalid = Assert.Single(await ToListAsync(IndexUsageService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, t), RelationPattern.Parse(null, null), IndexUsageFilter.Invalid, TimeSpan.Zero, false)));
        Assert.Equal(t + "_bad", invalid.Index);
        Assert.False(invalid.IsValid);
    }

    [Fact]
    public async Task A_deliberately_bloated_index_is_detected_and_a_fresh_one_is_not()
    {
        await using var scratch = await Scratch.CreateAsync(30000);
        var t = scratch.Name;
        await scratch.ExecAsync($"CREATE INDEX {t}_bloated ON {t} (val)");
        await scratch.ExecAsync($"DELETE FROM {t} WHERE id % 10 <> 0");
        await scratch.ExecAsync($"VACUUM ANALYZE {t}");
        await scratch.ExecAsync($"CREATE INDEX {t}_fresh ON {t} (val)");
        using var env = TestEnvironments.Sandbox();
        var bloat = await IndexBloatService.GetAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, t), RelationPattern.Parse(null, null), 30, 50);
        var bloated = Assert.Single(bloat, b => b.Index == t + "_bloated");
        Assert.True(bloated.BloatPercent >= 60, $"bloated: {bloated.BloatPercent}%");
        Assert.Equal(Status.Critical, bloated.Status);
        Assert.True(bloated.BloatBytes > 0 && bloated.BloatBytes < bloated.SizeBytes);
        var fresh = Assert.Single(bloat, b => b.Index == t + "_fresh");
        Assert.True(fresh.BloatPercent < 30, $"fresh: {fresh.BloatPercent}%");
        Assert.Equal(bloat.OrderByDescending(b => b.BloatBytes).Select(b => b.Index), bloat.Select(b => b.Index));
    }

    [Fact]
    public async Task Reindex_rebuilds_and_reports_sizes()
    {
        await using var scratch = await Scratch.CreateAsync(20000);
        var t = scratch.Name;
        await scratch.ExecAsync($"CREATE INDEX {t}_val ON {t} (val)");
        await scratch.ExecAsync($"DELETE FROM {t} WHERE id % 4 <> 0");
        await scratch.ExecAsync($"VACUUM {t}");
        using var env = TestEnvironments.Sandbox();
        var index = Assert.Single(await PostgresRelations.ResolveIndexesAsync(TestEnvironments.Context(env), RelationPattern.Parse(null, t + "_val")));
        var oldNode = await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{t}_val'");
        var result = await ReindexService.ReindexAsync(TestEnvironments.Context(env), index, concurrently: true, LockTimeout);
        Assert.True(result.Concurrently);
        Assert.True(result.SizeBytesAfter < result.SizeBytesBefore, $"{result.SizeBytesBefore} -> {result.SizeBytesAfter}");
        Assert.NotEqual(oldNode, await scratch.ScalarAsync<uint>($"SELECT relfilenode FROM pg_class WHERE relname = '{t}_val'"));
        var locked = await ReindexService.ReindexAsync(TestEnvironments.Context(env), index, concurrently: false, LockTimeout);
        Assert.False(locked.Concurrently);
    }

    [Fact]
    public async Task A_failed_concurrent_reindex_leaves_no_invalid_ccnew_index()
    {
        await using var scratch = await Scratch.CreateAsync(1000);
        var t = scratch.Name;
        await scratch.ExecAsync($"CREATE INDEX {t}_val ON {t} (val)");
        // An open writing transaction makes REINDEX CONCURRENTLY wait after it created <index>_ccnew; it ends 3 s later.
        await using var writer = await SlowSession.StartAsync($"BEGIN; INSERT INTO {t} VALUES (-1, -1, 'w'); SELECT pg_sleep(3); COMMIT;");
        using var env = TestEnvironments.Sandbox();
        var index = new IndexTarget("public", t, t + "_val", 0);
        var error = await Assert.ThrowsAsync<PuoException>(() =>
            ReindexService.ReindexAsync(TestEnvironments.Context(env), index, concurrently: true, TimeSpan.FromMilliseconds(500)));
        Assert.Equal(ErrorKind.ResourceUnavailable, error.Kind);
        Assert.Contains("dropped", error.Message);
        Assert.Equal(0L, await scratch.ScalarAsync<long>($"SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = '{t}'::regclass AND (NOT x.indisvalid OR c.relname LIKE '%ccnew%')"));
        Assert.True(await scratch.ScalarAsync<bool>($"SELECT indisvalid FROM pg_index WHERE indexrelid = '{t}_val'::regclass"));
    }

    [Fact]
    public async Task A_concurrent_rebuild_that_fails_part_way_on_a_duplicate_key_leaves_no_invalid_index()
    {
        // A partitioned unique index is rebuilt one partition at a time. Its key goes through a function declared
        // IMMUTABLE that is then redefined, so the first partition rebuilds fine and the second one's rebuild meets
        // duplicate keys (SQLSTATE 23505) after REINDEX has already created <index>_ccnew on that partition.
        await using var scratch = await Scratch.CreateAsync(0);
        var t = scratch.Name;
        try
        {
            await scratch.ExecAsync($"""
                CREATE FUNCTION {t}_key(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1';
                CREATE TABLE {t}_p (k int, id int) PARTITION BY LIST (k);
                CREATE TABLE {t}_p1 PARTITION OF {t}_p FOR VALUES IN (1);
                CREATE TABLE {t}_p2 PARTITION OF {t}_p FOR VALUES IN (2);
                INSERT INTO {t}_p SELECT 1, g FROM generate_series(1, 5) g;
                INSERT INTO {t}_p SELECT 2, g FROM generate_series(11, 100) g;
                CREATE UNIQUE INDEX {t}_ukey ON {t}_p (k, {t}_key(id));
                CREATE OR REPLACE FUNCTION {t}_key(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 % 10';
                """);
            using var env = TestEnvironments.Sandbox();
            var index = Assert.Single(await PostgresRelations.ResolveIndexesAsync(TestEnvironments.Context(env), RelationPattern.Parse("public", t + "_ukey")));
            var error = await Assert.ThrowsAsync<PuoException>(() => ReindexService.ReindexAsync(TestEnvironments.Context(env), index, concurrently: true, LockTimeout));
            Assert.Contains("could not create unique index", error.Message);
            Assert.Contains("_ccnew", error.Message);
            Assert.Contains("was dropped", error.Message);
            Assert.Equal(0L, await scratch.ScalarAsync<long>($"""
                SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
                WHERE x.indrelid IN (SELECT relid FROM pg_partition_tree('{t}_p')) AND (NOT x.indisvalid OR c.relname LIKE '%ccnew%')
                """));
            Assert.Equal(3L, await scratch.ScalarAsync<long>($"SELECT count(*) FROM pg_index WHERE indrelid IN (SELECT relid FROM pg_partition_tree('{t}_p'))"));
        }
        finally
        {
            await scratch.ExecAsync($"DROP TABLE IF EXISTS {t}_p; DROP FUNCTION IF EXISTS {t}_key(int)");
        }
    }

    [Fact]
    public async Task Blocking_chain_names_the_root_blocker()
    {
        await using var scratch = await Scratch.CreateAsync(10);
        await using var holder = await SlowSession.StartAsync($"BEGIN; LOCK TABLE {scratch.Name} IN ACCESS EXCLUSIVE MODE;", "xunit-blocker");
        await using var waiter = await SlowSession.StartAsync($"SELECT count(*) FROM {scratch.Name}", "xunit-waiter");
        using var env = TestEnvironments.Sandbox();
        IReadOnlyList<BlockingQuery> rows = [];
        for (var i = 0; i < 50 && !rows.Any(r => r.Pid == waiter.Pid); i++)
        {
            await Task.Delay(100);
            rows = await BlockingQueryService.GetAsync(TestEnvironments.Context(env));
        }
        var blocked = Assert.Single(rows, r => r.Pid == waiter.Pid);
        Assert.Equal([holder.Pid], blocked.BlockedBy);
        Assert.Equal(holder.Pid, blocked.RootBlocker);
        Assert.Equal([holder.Pid, waiter.Pid], blocked.Chain);
        Assert.StartsWith("Lock:", blocked.WaitEvent);
        var root = Assert.Single(rows, r => r.Pid == holder.Pid);
        Assert.True(root.IsRootBlocker);
        Assert.Contains(waiter.Pid, root.Blocking);
        Assert.Equal("idle in transaction", root.State);
        Assert.True(rows.ToList().IndexOf(root) < rows.ToList().IndexOf(blocked), "the root comes before the backends it blocks");
    }

    [Fact]
    public async Task Explain_analyze_of_a_delete_is_refused_by_the_read_only_transaction_and_deletes_nothing()
    {
        await using var scratch = await Scratch.CreateAsync(500);
        using var env = TestEnvironments.Sandbox();
        var refused = await Assert.ThrowsAsync<PuoException>(() =>
            QueryPlanService.ExplainAsync(TestEnvironments.Context(env), $"DELETE FROM {scratch.Name} WHERE val > 0", analyze: true, 100));
        Assert.Equal("PuoOps.Postgres.QueryPlanReadOnly", refused.ErrorId);
        var plan = await QueryPlanService.ExplainAsync(TestEnvironments.Context(env), $"DELETE FROM {scratch.Name} WHERE val > 0", analyze: false, 100);
        Assert.Equal("ModifyTable", plan.RootNode);
        Assert.Contains(plan.Nodes, n => n.NodeType == "Seq Scan" && n.Relation == scratch.Name);
        var select = await QueryPlanService.ExplainAsync(TestEnvironments.Context(env), $"SELECT * FROM {scratch.Name} WHERE val > 0", analyze: true, 100);
        Assert.True(select.Analyzed);
        Assert.True(select.Execution > TimeSpan.Zero && select.Total >= select.Execution);
        Assert.Contains(select.Nodes, n => n.NodeType == "Seq Scan" && n.Relation == scratch.Name && n.ActualRows == 500);
        Assert.Contains("\"Execution Time\"", select.Json);
        Assert.Equal(500L, await scratch.ScalarAsync<long>($"SELECT count(*) FROM {scratch.Name}"));
    }

    [Fact]
    public async Task Query_plan_refuses_several_statements_and_stops_at_the_timeout()
    {
        await using var scratch = await Scratch.CreateAsync(10);
        using var env = TestEnvironments.Sandbox();
        var several = await Assert.ThrowsAsync<PuoException>(() =>
            QueryPlanService.ExplainAsync(TestEnvironments.Context(env), $"SELECT 1; DROP TABLE {scratch.Name}", true, 100));
        Assert.Equal("PuoOps.Postgres.MultipleStatements", several.ErrorId);
        Assert.Equal(10L, await scratch.ScalarAsync<long>($"SELECT count(*) FROM {scratch.Name}"));

        var slow = await Assert.ThrowsAsync<PuoException>(() =>
            QueryPlanService.ExplainAsync(TestEnvironments.Context(env, timeoutSeconds: 1), "SELECT pg_sleep(5)", true, 100));
        Assert.Equal(ErrorKind.Timeout, slow.Kind);

        var planOnly = await QueryPlanService.ExplainAsync(TestEnvironments.Context(env, timeoutSeconds: 1), "SELECT pg_sleep(5)", false, 100);
        Assert.False(planOnly.Analyzed);
        Assert.Null(planOnly.Execution);
    }

    [Fact]
    public async Task Query_plan_points_at_seq_scans_of_large_tables_and_estimate_misses()
    {
        await using var scratch = await Scratch.CreateAsync(20000);
        // note = md5(id) holds for every row, but the planner guesses 0.5% for an equality with an expression.
        using var env = TestEnvironments.Sandbox();
        await scratch.ExecAsync($"ANALYZE {scratch.Name}");
        var plan = await QueryPlanService.ExplainAsync(TestEnvironments.Context(env),
            $"SELECT * FROM {scratch.Name} WHERE note = md5(id::text)", true, 10000);
        var scan = Assert.Single(plan.SeqScansOnLargeTables);
        Assert.Equal(scratch.Name, scan.Relation);
        Assert.Equal(20000, scan.TableRows);
        Assert.Contains(plan.RowEstimateMisses, n => n.Relation == scratch.Name && n.EstimateFactor >= 10);
        Assert.NotEmpty(plan.SlowestNodes);
    }

    [Fact]
    public async Task Prewarm_loads_the_table_and_its_indexes()
    {
        await using var scratch = await Scratch.CreateAsync(5000);
        await scratch.ExecAsync($"CREATE INDEX {scratch.Name}_val ON {scratch.Name} (val)");
        using var env = TestEnvironments.Sandbox();
        var ctx = TestEnvironments.Context(env);
        var function = await PrewarmService.FindFunctionAsync(ctx);
        var results = await ToListAsync(PrewarmService.PrewarmAsync(ctx, function, new TableTarget("public", scratch.Name), PrewarmMode.Buffer));
        var heap = Assert.Single(results, r => r.Kind == "Table");
        Assert.Equal(heap.SizeBytes / 8192, heap.Blocks);
        Assert.True(heap.Blocks > 0);
        Assert.Equal(2, results.Count(r => r.Kind == "Index" && r.Blocks > 0));
    }
}
