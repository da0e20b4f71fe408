using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace PuoOps.Engine.Postgres;

/// <summary>The runbook's "warm cache" step done by the server: pg_prewarm on a table, its TOAST table and its indexes.</summary>
public static class PrewarmService
{
    private const string RelationsSql = """
        SELECT r.oid, r.relname, r.kind, pg_relation_size(r.oid)
        FROM (SELECT c.oid, c.relname, 'Table' AS kind, 0 AS sort FROM pg_class c WHERE c.oid = @table
              UNION ALL
              SELECT t.oid, t.relname, 'Toast', 1 FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = @table
              UNION ALL
              SELECT i.oid, i.relname, 'Index', 2 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              WHERE x.indrelid = @table AND x.indisvalid) r
        ORDER BY r.sort, r.relname
        """;

    /// <summary>Where the extension lives, so its function is called by its qualified name; InvalidOperation when it is missing.</summary>
    public static Task<string> FindFunctionAsync(OperationContext ctx) =>
        PostgresConnections.ReadAsync(ctx, connection => FindFunctionAsync(connection, ctx));

    private static async Task<string> FindFunctionAsync(Npgsql.NpgsqlConnection connection, OperationContext ctx)
    {
        await using var command = connection.Command(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_prewarm'", ctx);
        return await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false) is string schema
            ? PostgresRelations.QuoteIdentifier(schema) + ".pg_prewarm"
            : throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Postgres.PrewarmNotInstalled",
                $"The pg_prewarm extension is not installed in {PostgresConnections.Endpoint(ctx).DisplayName}. " +
                "Install it once as a superuser with CREATE EXTENSION pg_prewarm (it ships with postgresql-contrib).",
                PostgresConnections.Endpoint(ctx).DisplayName);
    }

    /// <summary>Loads one table and everything that belongs to it, one result per relation as it finishes.</summary>
    public static async IAsyncEnumerable<PrewarmResult> PrewarmAsync(OperationContext ctx, string function, TableTarget table, PrewarmMode mode,
        [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await using var connection = await PostgresConnections.OpenAsync(ctx).ConfigureAwait(false);
        var relations = new List<(uint Oid, string Name, string Kind, long Bytes)>();
        await using (var command = connection.Command(RelationsSql, ctx))
        {
            command.Parameters.AddWithValue("table", NpgsqlTypes.NpgsqlDbType.Oid, await TableOidAsync(connection, ctx, table).ConfigureAwait(false));
            await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                relations.Add((reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
        }
        var modeName = mode.ToString().ToLowerInvariant();
        for (var i = 0; i < relations.Count; i++)
        {
            var relation = relations[i];
            ctx.Report(new ProgressInfo($"pg_prewarm ({modeName}) {table}", $"{relation.Kind} {relation.Name} ({IndexUsageService.FormatBytes(relation.Bytes)})",
                100 * i / relations.Count));
            var watch = Stopwatch.StartNew();
            await using var command = connection.Command($"SELECT {function}(@oid::regclass, @mode)", ctx, unlimited: true);
            command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, relation.Oid);
            command.Parameters.AddWithValue("mode", modeName);
            long blocks;
            using (var notices = ServerNotices.Watch(connection))
            {
                blocks = Convert.ToInt64(await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false));
                notices.ThrowIfSkipped(ctx, $"pg_prewarm ({modeName})", $"{relation.Kind.ToLowerInvariant()} {table.Schema}.{relation.Name}");
            }
            yield return new PrewarmResult
            {
                Environment = ctx.Environment.Name, Schema = table.Schema, Table = table.Name, Relation = relation.Name,
                Kind = relation.Kind, Mode = modeName, Blocks = blocks, SizeBytes = relation.Bytes, Duration = watch.Elapsed,
            };
        }
    }

    private static async Task<uint> TableOidAsync(Npgsql.NpgsqlConnection connection, OperationContext ctx, TableTarget table)
    {
        await using var command = connection.Command(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = @schema AND c.relname = @table", ctx);
        command.Parameters.AddWithValue("schema", table.Schema);
        command.Parameters.AddWithValue("table", table.Name);
        return await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false) is uint oid
            ? oid
            : throw PostgresRelations.NotFound("table", table.Schema, table.Name, ctx, "Get-PuoTableSize");
    }
}
