namespace PuoOps;

/// <summary>Get-PuoTableSize: one table's disk use, split the way an operator decides what to do about it.</summary>
public sealed class TableSize
{
    public string Environment { get; init; } = "";
    public string Schema { get; init; } = "";
    public string Table { get; init; } = "";
    /// <summary>The heap with its free-space and visibility maps, without TOAST and indexes.</summary>
    public long TableBytes { get; init; }
    public long IndexBytes { get; init; }
    /// <summary>The TOAST table and its index (large values stored out of line).</summary>
    public long ToastBytes { get; init; }
    public long TotalBytes { get; init; }
    /// <summary>Deprecated alias of TotalBytes (it was pg_size_pretty's text); removed in the next release.</summary>
    [Obsolete("Use TotalBytes.")]
    public long Size => TotalBytes;
    /// <summary>The planner's row estimate (pg_class.reltuples); -1 when the table was never analyzed.</summary>
    public long EstimatedRows { get; init; }
}

/// <summary>
/// Get-PuoMaintenanceStatus: vacuum and analyze history, dead tuples and transaction-ID age of one table,
/// or (Scope = Database, Table empty) the database's own distance to wraparound.
/// </summary>
public sealed class MaintenanceStatus
{
    public string Environment { get; init; } = "";
    /// <summary>"Table" or "Database".</summary>
    public string Scope { get; init; } = "Table";
    public string Database { get; init; } = "";
    public string? Schema { get; init; }
    public string? Table { get; init; }
    public Status Status { get; init; }
    public long LiveTuples { get; init; }
    public long DeadTuples { get; init; }
    public double DeadPercent { get; init; }
    public DateTimeOffset? LastVacuum { get; init; }
    public DateTimeOffset? LastAutovacuum { get; init; }
    public DateTimeOffset? LastAnalyze { get; init; }
    public DateTimeOffset? LastAutoanalyze { get; init; }
    public long VacuumCount { get; init; }
    public long AutovacuumCount { get; init; }
    /// <summary>age(relfrozenxid) of the table (or its TOAST table, whichever is older); age(datfrozenxid) for the database row.</summary>
    public long XidAge { get; init; }
    /// <summary>XidAge as a percentage of the 2^31 transactions after which PostgreSQL stops accepting writes.</summary>
    public double WraparoundPercent { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Get-PuoIndexUsage: one index, how often it is used, what it costs and what it backs.</summary>
public sealed class IndexUsage
{
    public string Environment { get; init; } = "";
    public string Schema { get; init; } = "";
    public string Table { get; init; } = "";
    public string Index { get; init; } = "";
    /// <summary>idx_scan: index scans since the statistics were last reset.</summary>
    public long Scans { get; init; }
    public long TuplesRead { get; init; }
    public long TuplesFetched { get; init; }
    /// <summary>From pg_class.relpages, i.e. as of the index's last VACUUM, ANALYZE, CREATE or REINDEX.</summary>
    public long SizeBytes { get; init; }
    /// <summary>Deprecated alias of SizeBytes (it was text); removed in the next release.</summary>
    [Obsolete("Use SizeBytes.")]
    public long Size => SizeBytes;
    public string Definition { get; init; } = "";
    public string AccessMethod { get; init; } = "";
    public bool IsPrimary { get; init; }
    public bool IsUnique { get; init; }
    /// <summary>True when a constraint (primary key, unique, exclusion) is enforced by this index.</summary>
    public bool IsConstraint { get; init; }
    public bool IsValid { get; init; }
    /// <summary>Since when the scan counters have counted: the later of the last stats reset and the server start.</summary>
    public DateTimeOffset? StatsSince { get; init; }
    public TimeSpan StatsAge { get; init; }
    /// <summary>With -Duplicate: the other indexes of the same table with the same key columns.</summary>
    public string[] DuplicateOf { get; init; } = [];
}

/// <summary>Get-PuoIndexBloat: the statistical estimate of a B-tree index's wasted space.</summary>
public sealed class IndexBloat
{
    public string Environment { get; init; } = "";
    public Status Status { get; init; }
    public string Schema { get; init; } = "";
    public string Table { get; init; } = "";
    public string Index { get; init; } = "";
    public long SizeBytes { get; init; }
    /// <summary>Deprecated alias of SizeBytes (it was text); removed in the next release.</summary>
    [Obsolete("Use SizeBytes.")]
    public long Size => SizeBytes;
    /// <summary>The size a freshly built index with the same rows would have (at its fillfactor).</summary>
    public long ExpectedBytes { get; init; }
    public long BloatBytes { get; init; }
    public double BloatPercent { get; init; }
    public int FillFactor { get; init; }
}

/// <summary>Invoke-PuoVacuum and Invoke-PuoAnalyze: what one table's maintenance did.</summary>
public sealed class MaintenanceResult
{
    public string Environment { get; init; } = "";
    public string Schema { get; init; } = "";
    public string Table { get; init; } = "";
    /// <summary>The statement's head, e.g. "VACUUM (ANALYZE, SKIP_LOCKED)".</summary>
    public string Operation { get; init; } = "";
    /// <summary>True when SKIP_LOCKED made the server skip the table because its lock was taken.</summary>
    public bool Skipped { get; init; }
    public TimeSpan Duration { get; init; }
    public long DeadTuplesBefore { get; init; }
    public long DeadTuplesAfter { get; init; }
    public long LiveTuples { get; init; }
    /// <summary>pg_total_relation_size before and after; -1 when another session held the table locked at that moment.</summary>
    public long SizeBytesBefore { get; init; }
    public long SizeBytesAfter { get; init; }
    public string Message { get; init; } = "";
}

/// <summary>Invoke-PuoReindex: one rebuilt index.</summary>
public sealed class ReindexResult
{
    public string Environment { get; init; } = "";
    public string Schema { get; init; } = "";
    public string Table { get; init; } = "";
    public string Index { get; init; } = "";
    public bool Concurrently { get; init; }
    public long SizeBytesBefore { get; init; }
    public long SizeBytesAfter { get; init; }
    public long SavedBytes => SizeBytesBefore - SizeBytesAfter;
    public TimeSpan Duration { get; init; }
}

/// <summary>
/// Get-PuoBlockingQuery: one backend in a lock-wait tree, either blocked (BlockedBy not empty) or a root
/// blocker that waits on nobody. Carries Pid and QueryStart so it pipes into Stop-PuoQuery.
/// </summary>
public sealed class BlockingQuery
{
    public string Environment { get; init; } = "";
    public int Pid { get; init; }
    public int[] BlockedBy { get; init; } = [];
    /// <summary>The pids waiting directly on this one.</summary>
    public int[] Blocking { get; init; } = [];
    /// <summary>The pid at the head of this backend's chain: the one to stop to release it.</summary>
    public int RootBlocker { get; init; }
    /// <summary>From the root blocker down to this pid, following the first blocker at each step.</summary>
    public int[] Chain { get; init; } = [];
    public bool IsRootBlocker => BlockedBy.Length == 0;
    /// <summary>Blocked backends: time waiting in the statement; root blockers: age of their transaction.</summary>
    public TimeSpan Duration { get; init; }
    public string State { get; init; } = "";
    public string? WaitEvent { get; init; }
    public string? User { get; init; }
    public string? Database { get; init; }
    public string? Application { get; init; }
    public DateTimeOffset? QueryStart { get; init; }
    public DateTimeOffset? TransactionStart { get; init; }
    public string Query { get; init; } = "";
}

/// <summary>Get-PuoQueryPlan: one statement's plan, read for what usually makes a search slow.</summary>
public sealed class QueryPlan
{
    public string Environment { get; init; } = "";
    public string Statement { get; init; } = "";
    /// <summary>False with -NoAnalyze: times and actual rows are then empty.</summary>
    public bool Analyzed { get; init; }
    public TimeSpan? Planning { get; init; }
    public TimeSpan? Execution { get; init; }
    public TimeSpan? Total { get; init; }
    /// <summary>Deprecated milliseconds of <see cref="Planning"/>, <see cref="Execution"/> and <see cref="Total"/>; removed in the next release.</summary>
    [Obsolete("Use Planning.")] public double? PlanningMs => Planning?.TotalMilliseconds;
    [Obsolete("Use Execution.")] public double? ExecutionMs => Execution?.TotalMilliseconds;
    [Obsolete("Use Total.")] public double? TotalMs => Total?.TotalMilliseconds;
    public double TotalCost { get; init; }
    public string RootNode { get; init; } = "";
    /// <summary>Nodes with the most time of their own (children excluded), slowest first.</summary>
    public PlanNode[] SlowestNodes { get; init; } = [];
    /// <summary>Sequential scans of tables with at least -LargeTableRows rows.</summary>
    public PlanNode[] SeqScansOnLargeTables { get; init; } = [];
    /// <summary>Nodes whose row estimate is off by 10x or more: stale statistics, or correlated columns.</summary>
    public PlanNode[] RowEstimateMisses { get; init; } = [];
    public PlanNode[] Nodes { get; init; } = [];
    /// <summary>The server's EXPLAIN (FORMAT JSON) output, untouched.</summary>
    public string Json { get; init; } = "";
}

/// <summary>One node of a <see cref="QueryPlan"/>.</summary>
public sealed class PlanNode
{
    public int Depth { get; init; }
    public string NodeType { get; init; } = "";
    public string? Relation { get; init; }
    public string? Index { get; init; }
    public double PlanRows { get; init; }
    /// <summary>Rows per loop, as EXPLAIN shows them; null without ANALYZE.</summary>
    public double? ActualRows { get; init; }
    public double? Loops { get; init; }
    /// <summary>Time including children, over all loops.</summary>
    public TimeSpan? Total { get; init; }
    /// <summary>Time of this node alone, over all loops.</summary>
    public TimeSpan? Self { get; init; }
    /// <summary>Deprecated milliseconds of <see cref="Total"/> and <see cref="Self"/>; removed in the next release.</summary>
    [Obsolete("Use Total.")] public double? TotalMs => Total?.TotalMilliseconds;
    [Obsolete("Use Self.")] public double? SelfMs => Self?.TotalMilliseconds;
    /// <summary>How far the estimate missed: max(actual, plan) / min(actual, plan), each at least 1.</summary>
    public double? EstimateFactor { get; init; }
    public long? SharedHitBlocks { get; init; }
    public long? SharedReadBlocks { get; init; }
    public string? Filter { get; init; }
    public long? RowsRemovedByFilter { get; init; }
    /// <summary>For scans: the table's row estimate (pg_class.reltuples).</summary>
    public long? TableRows { get; set; }

    public override string ToString() =>
        NodeType + (Relation is null ? "" : " on " + Relation) + (Index is null ? "" : " using " + Index)
        + (Self is { } self ? $" ({Engine.Units.Duration(self)})" : "");
}

/// <summary>How pg_prewarm loads blocks: into shared buffers, into the OS cache by reading, or by an asynchronous OS hint.</summary>
public enum PrewarmMode
{
    Buffer,
    Read,
    Prefetch,
}

/// <summary>Invoke-PuoPrewarm: one relation loaded into shared buffers (or the OS cache).</summary>
public sealed class PrewarmResult
{
    public string Environment { get; init; } = "";
    public string Schema { get; init; } = "";
    public string Table { get; init; } = "";
    /// <summary>The table itself, or one of its indexes.</summary>
    public string Relation { get; init; } = "";
    /// <summary>"Table", "Index" or "Toast".</summary>
    public string Kind { get; init; } = "";
    public string Mode { get; init; } = "";
    public long Blocks { get; init; }
    public long SizeBytes { get; init; }
    public TimeSpan Duration { get; init; }
}
