using Npgsql;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Postgres;

/// <summary>
/// A uniquely named table of this test's own in the seeded sandbox database (other test classes run in
/// parallel on the same database), dropped with everything on it at the end.
/// </summary>
public sealed class Scratch : IAsyncDisposable
{
    private Scratch(NpgsqlConnection connection, string name)
    {
        Connection = connection;
        Name = name;
    }

    public NpgsqlConnection Connection { get; }
    public string Name { get; }

    /// <summary>Creates <c>xunit_maint_XXXXXXXX</c> with (id int primary key, val int, note text) and <paramref name="rows"/> rows.</summary>
    public static async Task<Scratch> CreateAsync(int rows = 1000, string prefix = "xunit_maint_")
    {
        var connection = new NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await connection.OpenAsync();
        var scratch = new Scratch(connection, prefix + Guid.NewGuid().ToString("N")[..8]);
        await scratch.ExecAsync($"CREATE TABLE {scratch.Name} (id int PRIMARY KEY, val int, note text)");
        await scratch.ExecAsync($"INSERT INTO {scratch.Name} SELECT g, g, md5(g::text) FROM generate_series(1, {rows}) g");
        return scratch;
    }

    public async Task ExecAsync(string sql)
    {
        await using var command = new NpgsqlCommand(sql, Connection) { CommandTimeout = 120 };
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = new NpgsqlCommand(sql, Connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Waits (bounded) until the cumulative statistics show at least <paramref name="dead"/> dead tuples.</summary>
    public async Task WaitForDeadTuplesAsync(long dead)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await ScalarAsync<long>($"SELECT pg_stat_get_dead_tuples('{Name}'::regclass)") >= dead)
                return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"Statistics never showed {dead} dead tuples in {Name}.");
    }

    public async ValueTask DisposeAsync()
    {
        await ExecAsync($"DROP TABLE IF EXISTS {Name} CASCADE");
        await Connection.DisposeAsync();
    }
}
