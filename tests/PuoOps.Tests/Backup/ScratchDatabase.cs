using Npgsql;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Backup;

/// <summary>
/// A database of the test's own (puo_bk_&lt;random&gt;) on the sandbox server, seeded with a small
/// PUO Memo-like schema, so restores and swaps never touch the shared puo_memo. Disposing drops it and
/// every database derived from its name (scratch, _before_restore_).
/// </summary>
public sealed class ScratchDatabase : IAsyncDisposable
{
    public const string Alembic = "a1b2c3d4e5f6";

    private ScratchDatabase(string name)
    {
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { Database = name, Pooling = false }.ConnectionString;
        Directory = Path.Combine(Path.GetTempPath(), "puo-bk-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Name { get; }
    public string ConnectionString { get; }
    /// <summary>A private backup directory, removed on dispose.</summary>
    public string Directory { get; }

    /// <param name="createOptions">Appended to CREATE DATABASE (a locale, say).</param>
    public static async Task<ScratchDatabase> CreateAsync(int rows = 20_000, string createOptions = "")
    {
        var db = new ScratchDatabase("puo_bk_" + Guid.NewGuid().ToString("N")[..8]);
        await AdminAsync($"CREATE DATABASE {db.Name} {createOptions}");
        await db.ExecuteAsync($"""
            CREATE TABLE memories (id bigserial PRIMARY KEY, user_id text NOT NULL, content text, created_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE audit_logs (id bigserial PRIMARY KEY, action text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY);
            INSERT INTO alembic_version VALUES ('{Alembic}');
            INSERT INTO memories (user_id, content) SELECT 'user_' || (g % 50), repeat(md5(g::text), 3) FROM generate_series(1, {rows}) g;
            INSERT INTO audit_logs (action) SELECT 'auth.login' FROM generate_series(1, {rows / 10}) g;
            CREATE INDEX idx_memories_user ON memories (user_id);
            """);
        return db;
    }

    public PuoEnvironment Environment(string? name = null) => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = name ?? "xunit-bk-" + Guid.NewGuid().ToString("N")[..8],
        PostgresConnectionString = ConnectionString,
    });

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 120 };
        await command.ExecuteNonQueryAsync();
    }

    public async Task<object?> ScalarAsync(string sql, string? database = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = database ?? Name };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 120 };
        return await command.ExecuteScalarAsync();
    }

    /// <summary>Row count and an md5 over every row of each table: "unchanged" means these are equal.</summary>
    public async Task<string> FingerprintAsync(string? database = null) =>
        (string)(await ScalarAsync("""
            SELECT (SELECT count(*) || ':' || md5(string_agg(m::text, ',' ORDER BY id)) FROM memories m) || '|' ||
                   (SELECT count(*) || ':' || md5(string_agg(a::text, ',' ORDER BY id)) FROM audit_logs a) || '|' ||
                   (SELECT string_agg(version_num, ',') FROM alembic_version)
            """, database))!;

    /// <summary>The databases derived from this one's name (scratch copies, kept previous versions).</summary>
    public async Task<List<string>> DerivedDatabasesAsync()
    {
        var names = new List<string>();
        await using var connection = new NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datname LIKE @prefix ORDER BY 1", connection);
        command.Parameters.AddWithValue("prefix", Name + "\\_%");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            names.Add(reader.GetString(0));
        return names;
    }

    /// <summary>Waits (bounded) until no scratch database is left: cleanup after Ctrl+C finishes in the background.</summary>
    public async Task<List<string>> WaitForNoScratchAsync(Func<string, bool>? isScratch = null)
    {
        isScratch ??= n => n.Contains("_restore_", StringComparison.Ordinal) && !n.Contains("_before_restore_", StringComparison.Ordinal)
                           || n.Contains("_verify_", StringComparison.Ordinal);
        List<string> left = [];
        for (var i = 0; i < 100; i++)
        {
            left = (await DerivedDatabasesAsync()).Where(isScratch).ToList();
            if (left.Count == 0)
                break;
            await Task.Delay(200);
        }
        return left;
    }

    public static async Task AdminAsync(string sql)
    {
        var builder = new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 120 };
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in await DerivedDatabasesAsync())
            await AdminAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        await AdminAsync($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
