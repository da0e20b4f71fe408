using System.Globalization;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Database-level SQL for backup and restore: unpooled connections to a named database on the
/// environment's server (so a DROP or RENAME is never blocked by an idle pooled connection of ours),
/// row counts, the alembic revision, and creating, dropping and renaming databases.
/// </summary>
internal static class DatabaseAdmin
{
    /// <summary>The database to connect to for CREATE/DROP/ALTER DATABASE: never the one being changed.</summary>
    public static string MaintenanceDatabase(string changing) => changing == "postgres" ? "template1" : "postgres";

    public static async Task<NpgsqlConnection> OpenAsync(OperationContext ctx, string database, CancellationToken? cancellation = null)
    {
        var endpoint = PostgresConnections.Endpoint(ctx);
        var builder = new NpgsqlConnectionStringBuilder(endpoint.ConnectionString) { Database = database, Pooling = false };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        var target = $"{endpoint.User}@{endpoint.Host}:{endpoint.Port}/{database}";
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation ?? ctx.Cancellation);
            timeout.CancelAfter(ctx.Timeout);
            await connection.OpenAsync(timeout.Token).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !(cancellation ?? ctx.Cancellation).IsCancellationRequested)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            var error = ErrorTranslator.Translate(ex, ctx.Environment);
            throw new PuoException(error.Kind, error.ErrorId, $"Connecting to {target}: {error.Message}", target, ex);
        }
    }

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Quote(BackupTable table) => Quote(table.Schema) + "." + Quote(table.Name);

    /// <summary>A string literal for statements that take no parameters (CREATE DATABASE, COMMENT, ALTER ... SET).</summary>
    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    public static async Task<int> ServerMajorAsync(NpgsqlConnection connection, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand("SELECT current_setting('server_version_num')::int", connection);
        return (int)(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false))! / 10000;
    }

    /// <summary>The user tables pg_dump dumps data for (not system, temporary or extension-owned ones), with their size.</summary>
    public static async Task<List<(BackupTable Table, long Bytes)>> TablesAsync(NpgsqlConnection connection, CancellationToken cancellation)
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
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
            tables.Add((new BackupTable { Schema = reader.GetString(0), Name = reader.GetString(1) }, reader.GetInt64(2)));
        return tables;
    }

    public static async Task<long> CountAsync(NpgsqlConnection connection, BackupTable table, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand("SELECT count(*) FROM " + Quote(table), connection) { CommandTimeout = 0 };
        return (long)(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!;
    }

    /// <summary>The rows of alembic_version joined with ',' (sorted), or null when the database has no such table.</summary>
    public static async Task<string?> AlembicVersionAsync(NpgsqlConnection connection, CancellationToken cancellation)
    {
        var versions = await AlembicVersionsAsync(connection, cancellation).ConfigureAwait(false);
        return versions is null ? null : string.Join(",", versions);
    }

    public static async Task<List<string>?> AlembicVersionsAsync(NpgsqlConnection connection, CancellationToken cancellation)
    {
        await using (var exists = new NpgsqlCommand("SELECT to_regclass('alembic_version') IS NOT NULL", connection))
            if (!(bool)(await exists.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!)
                return null;
        var versions = new List<string>();
        await using var command = new NpgsqlCommand("SELECT version_num FROM alembic_version ORDER BY 1", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
            versions.Add(reader.GetString(0));
        return versions;
    }

    public static async Task<bool> DatabaseExistsAsync(NpgsqlConnection connection, string database, CancellationToken cancellation)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = @name)", connection);
        command.Parameters.AddWithValue("name", database);
        return (bool)(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!;
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
        try
        {
            await using var connection = await OpenAsync(ctx, MaintenanceDatabase(database), budget.Token).ConfigureAwait(false);
            await ExecuteAsync(connection, $"DROP DATABASE IF EXISTS {Quote(database)} WITH (FORCE)", budget.Token).ConfigureAwait(false);
            ctx.Log($"Dropped the scratch database {database}.");
        }
        catch (Exception ex)
        {
            ctx.Log($"Could not drop the scratch database {database} ({ex.Message}); drop it by hand: DROP DATABASE {Quote(database)} WITH (FORCE);");
        }
    }

    public static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture);
}
