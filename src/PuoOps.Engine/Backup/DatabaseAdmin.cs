using System.Globalization;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Database-level SQL for backup and restore, on connections from <see cref="PostgresConnections.OpenDatabaseAsync"/>:
/// row counts, the alembic revision, and creating, dropping and renaming databases. Catalog reads give up
/// after -TimeoutSec; row counts and DDL run as long as the work takes.
/// </summary>
internal static class DatabaseAdmin
{
    /// <summary>The database to connect to for CREATE/DROP/ALTER DATABASE: never the one being changed.</summary>
    public static string MaintenanceDatabase(string changing) => changing == "postgres" ? "template1" : "postgres";

    public static async Task<int> ServerMajorAsync(NpgsqlConnection connection, OperationContext ctx)
    {
        await using var command = connection.Command("SELECT current_setting('server_version_num')::int", ctx);
        return (int)(await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false))! / 10000;
    }

    /// <summary>The user tables pg_dump dumps data for (not system, temporary or extension-owned ones), with their size.</summary>
    public static async Task<List<(BackupTable Table, long Bytes)>> TablesAsync(NpgsqlConnection connection, OperationContext ctx)
    {
        const string sql = """
            SELECT n.nspname, c.relname, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d
                              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 1, 2
            """;
        var tables = new List<(BackupTable, long)>();
        await using var command = connection.Command(sql, ctx);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            tables.Add((new BackupTable { Schema = reader.GetString(0), Name = reader.GetString(1) }, reader.GetInt64(2)));
        return tables;
    }

    public static async Task<long> CountAsync(NpgsqlConnection connection, BackupTable table, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand("SELECT count(*) FROM " + SqlQuote.Identifier(table.Schema, table.Name), connection) { CommandTimeout = 0 };
        return (long)(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!;
    }

    /// <summary>The rows of alembic_version joined with ',' (sorted), or null when the database has no such table.</summary>
    public static async Task<string?> AlembicVersionAsync(NpgsqlConnection connection, OperationContext ctx)
    {
        var versions = await AlembicVersionsAsync(connection, ctx).ConfigureAwait(false);
        return versions is null ? null : string.Join(",", versions);
    }

    public static async Task<List<string>?> AlembicVersionsAsync(NpgsqlConnection connection, OperationContext ctx)
    {
        await using (var exists = connection.Command("SELECT to_regclass('alembic_version') IS NOT NULL", ctx))
            if (!(bool)(await exists.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false))!)
                return null;
        var versions = new List<string>();
        await using var command = connection.Command("SELECT version_num FROM alembic_version ORDER BY 1", ctx);
        await using var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
            versions.Add(reader.GetString(0));
        return versions;
    }

    public static async Task<bool> DatabaseExistsAsync(NpgsqlConnection connection, string database, OperationContext ctx)
    {
        await using var command = connection.Command("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = @name)", ctx);
        command.Parameters.AddWithValue("name", database);
        return (bool)(await command.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false))!;
    }

    public static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// Drops a database we created, even after Ctrl+C (its own 60 s budget instead of the caller's
    /// token): the promise is that no scratch database is left behind. A failure is logged, not thrown.
    /// </summary>
    public static async Task DropQuietlyAsync(OperationContext ctx, string database)
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var cleanup = new OperationContext(ctx.Environment, ctx.Timeout, budget.Token, ctx.Progress, ctx.Verbose);
        try
        {
            await using var connection = await PostgresConnections.OpenDatabaseAsync(cleanup, MaintenanceDatabase(database)).ConfigureAwait(false);
            await ExecuteAsync(connection, $"DROP DATABASE IF EXISTS {SqlQuote.Identifier(database)} WITH (FORCE)", budget.Token).ConfigureAwait(false);
            ctx.Log($"Dropped the scratch database {database}.");
        }
        catch (Exception ex)
        {
            ctx.Log($"Could not drop the scratch database {database} ({ex.Message}); drop it by hand: DROP DATABASE {SqlQuote.Identifier(database)} WITH (FORCE);");
        }
    }

    public static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture);
}
