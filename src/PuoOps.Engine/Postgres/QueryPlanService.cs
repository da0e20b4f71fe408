using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>
/// The runbook's EXPLAIN ANALYZE, made safe to point at production: one statement only, inside a READ ONLY
/// transaction that is always rolled back, under a lock_timeout and statement_timeout of the context's timeout.
/// A rollback alone does not contain what ANALYZE executes (setval and nextval, dblink_exec, pg_terminate_backend
/// are not undone by it); READ ONLY makes the server refuse writes, sequence changes included, before they happen.
/// </summary>
public static class QueryPlanService
{
    private const double MissFactor = 10;
    private const double MissMinimumRows = 100;

    public static async Task<QueryPlan> ExplainAsync(OperationContext ctx, string statement, bool analyze, long largeTableRows, int slowestCount = 5)
    {
        if (string.IsNullOrWhiteSpace(statement))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Postgres.EmptyStatement", "Give the statement to explain, e.g. -Query 'SELECT * FROM memories WHERE user_id = ''user_42'''.");
        // A read, even with ANALYZE: whatever the statement did is rolled back.
        return await PostgresConnections.ReadAsync(ctx, connection => ExplainAsync(connection, ctx, statement, analyze, largeTableRows, slowestCount))
            .ConfigureAwait(false);
    }

    private static async Task<QueryPlan> ExplainAsync(NpgsqlConnection connection, OperationContext ctx, string statement, bool analyze,
        long largeTableRows, int slowestCount)
    {
        var target = PostgresConnections.Endpoint(ctx).DisplayName;
        string json;
        await using (var transaction = await connection.BeginTransactionAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            try
            {
                // First in the transaction: after any query, the statement itself could no longer switch it to read-write.
                await using (var readOnly = connection.Command("SET TRANSACTION READ ONLY", ctx))
                    await readOnly.ExecuteNonQueryAsync(ctx.Cancellation).ConfigureAwait(false);
                await using (var limit = connection.Command("SELECT set_config('statement_timeout', @ms, true), set_config('lock_timeout', @ms, true)", ctx))
                {
                    limit.Parameters.AddWithValue("ms", (ctx.TimeoutSeconds * 1000L).ToString(CultureInfo.InvariantCulture));
                    await limit.ExecuteNonQueryAsync(ctx.Cancellation).ConfigureAwait(false);
                }
                // A batch command is sent as one Parse message, never split on semicolons by the client, so the
                // server itself refuses a second statement: SQLSTATE 42601 raised by its Parse handler (the error's routine field,
                // which unlike the message is not translated by lc_messages).
                await using var batch = new NpgsqlBatch(connection, transaction) { Timeout = ctx.TimeoutSeconds + 5 };
                batch.BatchCommands.Add(new NpgsqlBatchCommand(
                    (analyze ? "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " : "EXPLAIN (FORMAT JSON) ") + statement));
                json = (string)(await batch.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false))!;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.SyntaxError && e.Routine == "exec_parse_message")
            {
                throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Postgres.MultipleStatements",
                    "Get-PuoQueryPlan explains exactly one statement; the text holds several. Pass them one at a time.", statement, e);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction)
            {
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Postgres.QueryPlanReadOnly",
                    $"EXPLAIN ANALYZE executes the statement, and Get-PuoQueryPlan executes it only in a read-only transaction; on {target} it tried to write " +
                    $"({e.MessageText}), which the server refused, so nothing was changed. Use -NoAnalyze to see the plan of a statement that writes.", statement, e);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.LockNotAvailable
                                              && !ctx.Cancellation.IsCancellationRequested)
            {
                throw new PuoException(ErrorKind.Timeout, "PuoOps.Postgres.QueryPlanTimeout",
                    $"The statement did not finish, or did not get its locks, within -TimeoutSec ({ctx.TimeoutSeconds} s) on {target} and was rolled back. " +
                    "Use -NoAnalyze to see the plan without running it, or raise -TimeoutSec.", statement, e);
            }
            finally
            {
                // Always: EXPLAIN ANALYZE really runs the statement, and nothing it did may stay.
                await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        return await ReadPlanAsync(ctx, connection, statement, analyze, json, largeTableRows, slowestCount).ConfigureAwait(false);
    }

    private static async Task<QueryPlan> ReadPlanAsync(OperationContext ctx, NpgsqlConnection connection, string statement, bool analyze,
        string json, long largeTableRows, int slowestCount)
    {
        using var document = JsonDocument.Parse(json);
        var top = document.RootElement[0];
        var nodes = new List<PlanNode>();
        Walk(top.GetProperty("Plan"), 0, 1, nodes);
        await FillTableRowsAsync(ctx, connection, nodes).ConfigureAwait(false);
        var planning = Number(top, "Planning Time");
        var execution = Number(top, "Execution Time");
        return new QueryPlan
        {
            Environment = ctx.Environment.Name, Statement = statement, Analyzed = analyze,
            Planning = Milliseconds(planning), Execution = Milliseconds(execution), Total = Milliseconds(planning + execution),
            TotalCost = Number(top.GetProperty("Plan"), "Total Cost") ?? 0,
            RootNode = nodes[0].NodeType,
            SlowestNodes = analyze ? nodes.Where(n => n.Self > TimeSpan.Zero).OrderByDescending(n => n.Self).Take(slowestCount).ToArray() : [],
            SeqScansOnLargeTables = nodes.Where(n => n.NodeType == "Seq Scan" && n.TableRows >= largeTableRows).ToArray(),
            RowEstimateMisses = nodes.Where(n => n.EstimateFactor >= MissFactor
                && Math.Abs((n.ActualRows ?? 0) - n.PlanRows) * (n.Loops ?? 1) >= MissMinimumRows).ToArray(),
            Nodes = nodes.ToArray(),
            Json = json,
        };
    }

    /// <summary>EXPLAIN's milliseconds as a duration.</summary>
    private static TimeSpan? Milliseconds(double? ms) => ms is { } value ? TimeSpan.FromMilliseconds(value) : null;

    /// <summary>
    /// Flattens the plan tree depth first; returns the node's wall-clock time over all loops. Below a Gather,
    /// the loops of the leader and its workers run side by side, so their summed time is divided by their number.
    /// </summary>
    private static double? Walk(JsonElement plan, int depth, double processes, List<PlanNode> nodes)
    {
        var index = nodes.Count;
        nodes.Add(null!);
        var childProcesses = Number(plan, "Workers Launched") is { } workers ? workers + 1 : processes;
        double? childrenMs = null;
        if (plan.TryGetProperty("Plans", out var children))
            foreach (var child in children.EnumerateArray())
                childrenMs = (childrenMs ?? 0) + (Walk(child, depth + 1, childProcesses, nodes) ?? 0);
        var (planRows, actualRows, loops) = (Number(plan, "Plan Rows") ?? 0, Number(plan, "Actual Rows"), Number(plan, "Actual Loops"));
        var totalMs = Number(plan, "Actual Total Time") * loops / processes;
        nodes[index] = new PlanNode
        {
            Depth = depth,
            NodeType = plan.GetProperty("Node Type").GetString()!,
            Relation = Text(plan, "Relation Name"),
            Index = Text(plan, "Index Name"),
            PlanRows = planRows, ActualRows = actualRows, Loops = loops,
            Total = Milliseconds(totalMs),
            Self = Milliseconds(totalMs is { } t ? Math.Max(0, t - (childrenMs ?? 0)) : null),
            EstimateFactor = actualRows is { } a ? Math.Max(Math.Max(a, 1), Math.Max(planRows, 1)) / Math.Min(Math.Max(a, 1), Math.Max(planRows, 1)) : null,
            SharedHitBlocks = (long?)Number(plan, "Shared Hit Blocks"),
            SharedReadBlocks = (long?)Number(plan, "Shared Read Blocks"),
            Filter = Text(plan, "Filter"),
            RowsRemovedByFilter = (long?)Number(plan, "Rows Removed by Filter"),
        };
        return totalMs;
    }

    /// <summary>Row estimates of the scanned tables, resolved through the same search_path the statement used.</summary>
    private static async Task FillTableRowsAsync(OperationContext ctx, NpgsqlConnection connection, List<PlanNode> nodes)
    {
        var names = nodes.Where(n => n.Relation is not null && n.NodeType.EndsWith("Scan", StringComparison.Ordinal))
            .Select(n => n.Relation!).Distinct().ToArray();
        if (names.Length == 0)
            return;
        await using var command = connection.Command(
            "SELECT r, (SELECT reltuples::int8 FROM pg_class WHERE oid = to_regclass(quote_ident(r))) FROM unnest(@names) r", ctx);
        command.Parameters.AddWithValue("names", names);
        var rows = new Dictionary<string, long>();
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            if (!reader.IsDBNull(1))
                rows[reader.GetString(0)] = reader.GetInt64(1);
        foreach (var node in nodes)
            if (node.Relation is not null && rows.TryGetValue(node.Relation, out var count))
                node.TableRows = count;
    }

    private static double? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
