using PuoOps.Engine.Backup;

namespace PuoOps.Tests.Backup;

/// <summary>When pg_restore is done with a table, read from its --verbose lines (PostgreSQL 15's wording) and --list entries.</summary>
public sealed class PgRestoreProgressTests
{
    private static readonly BackupTable Memories = new() { Schema = "public", Name = "memories" };
    private static readonly BackupTable AuditLogs = new() { Schema = "public", Name = "audit_logs" };

    private static readonly string[] Toc =
    [
        "215; 1259 16470 TABLE public memories puo",
        "216; 1259 16477 TABLE public audit_logs puo",
        "3346; 0 16470 TABLE DATA public memories puo",
        "3347; 0 16477 TABLE DATA public audit_logs puo",
        "3202; 2606 16476 CONSTRAINT public memories memories_pkey puo",
        "3204; 2606 16480 CONSTRAINT public audit_logs audit_logs_pkey puo",
        "3203; 1259 16481 INDEX public idx_memories_user puo",
        "3205; 2606 16482 FK CONSTRAINT public audit_logs audit_logs_memory_fkey puo",
    ];

    [Fact]
    public void With_several_jobs_a_table_is_done_once_its_data_and_its_constraints_are_finished()
    {
        var progress = new PgRestoreProgress([Memories, AuditLogs], Toc, jobs: 2);
        Assert.Null(progress.TableDone("pg_restore: launching item 3346 TABLE DATA memories"));
        Assert.Null(progress.TableDone("pg_restore: processing data for table \"public.memories\""));
        Assert.Null(progress.TableDone("pg_restore: finished item 3346 TABLE DATA memories"));
        Assert.Null(progress.TableDone("pg_restore: finished item 3347 TABLE DATA audit_logs"));
        // The primary key locks memories exclusively: memories is done only after it. An index does not.
        Assert.Null(progress.TableDone("pg_restore: finished item 3203 INDEX idx_memories_user"));
        Assert.Same(Memories, progress.TableDone("pg_restore: finished item 3202 CONSTRAINT memories memories_pkey"));
        Assert.Same(AuditLogs, progress.TableDone("pg_restore: finished item 3204 CONSTRAINT audit_logs audit_logs_pkey"));
        // A foreign key only shares the lock with a count; each table is reported once.
        Assert.Null(progress.TableDone("pg_restore: finished item 3205 FK CONSTRAINT audit_logs audit_logs_memory_fkey"));
        Assert.Null(progress.TableDone("pg_restore: finished item 3346 TABLE DATA memories"));
    }

    [Fact]
    public void With_one_job_a_table_is_done_when_pg_restore_starts_its_next_item()
    {
        var progress = new PgRestoreProgress([Memories, AuditLogs], Toc, jobs: 1);
        Assert.Null(progress.TableDone("pg_restore: creating TABLE \"public.memories\""));
        Assert.Null(progress.TableDone("pg_restore: processing data for table \"public.audit_logs\""));
        Assert.Null(progress.TableDone("pg_restore: warning: something said while the data loads"));
        Assert.Same(AuditLogs, progress.TableDone("pg_restore: processing data for table \"public.memories\""));
        Assert.Same(Memories, progress.TableDone("pg_restore: creating CONSTRAINT \"public.audit_logs audit_logs_pkey\""));
        Assert.Null(progress.TableDone("pg_restore: creating CONSTRAINT \"public.memories memories_pkey\""));
    }

    [Fact]
    public void With_several_jobs_a_table_whose_list_entries_could_be_another_tables_is_left_for_after_pg_restore()
    {
        // pg_restore --list quotes no names: "public a b puo" is table "a b" owned by puo, or table "a" owned by "b puo".
        BackupTable a = new() { Schema = "public", Name = "a" }, ab = new() { Schema = "public", Name = "a b" };
        var progress = new PgRestoreProgress([a, ab], ["10; 0 1 TABLE DATA public a puo", "11; 0 2 TABLE DATA public a b puo"], jobs: 2);
        Assert.Null(progress.TableDone("pg_restore: finished item 11 TABLE DATA a b"));
        Assert.Same(a, progress.TableDone("pg_restore: finished item 10 TABLE DATA a"));
    }

    [Fact]
    public void With_one_job_tables_whose_quoted_names_are_alike_are_left_for_after_pg_restore()
    {
        // Schema "s.t" with table "u", and schema "s" with table "t.u": both are "s.t.u" in pg_restore's line.
        BackupTable first = new() { Schema = "s.t", Name = "u" }, second = new() { Schema = "s", Name = "t.u" };
        var progress = new PgRestoreProgress([first, second, Memories], [], jobs: 1);
        Assert.Null(progress.TableDone("pg_restore: processing data for table \"s.t.u\""));
        Assert.Null(progress.TableDone("pg_restore: processing data for table \"public.memories\""));
        Assert.Same(Memories, progress.TableDone("pg_restore: creating INDEX \"public.idx_memories_user\""));
    }
}
