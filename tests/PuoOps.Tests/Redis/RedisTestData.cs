using PuoOps.Engine.Environments;
using PuoOps.Tests.Infrastructure;
using StackExchange.Redis;

namespace PuoOps.Tests.Redis;

/// <summary>
/// Direct access to the sandbox Redis for seeding and checking, and environments pointing at it. Tests run in
/// parallel on one shared server: each works on its own key prefix, and flush tests on a database of their own
/// (never db 0, which holds the seeded keys other tests read).
/// </summary>
internal static class RedisTestData
{
    private static readonly Lazy<ConnectionMultiplexer> Connection = new(() =>
        ConnectionMultiplexer.Connect(Sandbox.Current.RedisConnectionString + ",allowAdmin=true"));

    public static IDatabase Database(int db = 0) => Connection.Value.GetDatabase(db);

    public static IServer Server => Connection.Value.GetServers()[0];

    public static string NewPrefix() => "xunit:" + Guid.NewGuid().ToString("N")[..10];

    public static PuoEnvironment Environment(int? database = null, string? connectionString = null) => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = "xunit-" + Guid.NewGuid().ToString("N")[..8],
        RedisConnectionString = (connectionString ?? Sandbox.Current.RedisConnectionString) + (database is null ? "" : $",defaultDatabase={database}"),
    });

    /// <summary>Sets <paramref name="count"/> string keys prefix:0..count-1, pipelined.</summary>
    public static async Task SeedAsync(string prefix, int count, int db = 0)
    {
        var database = Database(db);
        for (var start = 0; start < count; start += 10_000)
        {
            var end = Math.Min(count, start + 10_000);
            await Task.WhenAll(Enumerable.Range(start, end - start).Select(i => database.StringSetAsync($"{prefix}:{i}", "v")));
        }
    }

    public static long Count(string pattern, int db = 0) => Server.Keys(db, pattern, 1000).LongCount();

    public static async Task DeleteAsync(string pattern, int db = 0)
    {
        var keys = Server.Keys(db, pattern, 1000).ToArray();
        if (keys.Length > 0)
            await Database(db).KeyDeleteAsync(keys);
    }
}
