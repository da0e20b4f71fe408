using Npgsql;

namespace PuoOps.Tests.Infrastructure;

/// <summary>A separate sandbox session running a slow statement (or idling in a transaction) for tests to find and stop.</summary>
public sealed class SlowSession : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;

    private SlowSession(NpgsqlConnection connection, int pid, Task<Exception?> running)
    {
        _connection = connection;
        Pid = pid;
        Running = running;
    }

    public int Pid { get; }

    /// <summary>Completes when the statement ends: null when it ran to the end, else what stopped it.</summary>
    public Task<Exception?> Running { get; }

    public static async Task<SlowSession> StartAsync(string sql = "SELECT pg_sleep(60)", string applicationName = "xunit-slow")
    {
        var builder = new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { ApplicationName = applicationName, Pooling = false };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        var pid = connection.ProcessID;
        var running = Task.Run(async () =>
        {
            try
            {
                await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
                await command.ExecuteNonQueryAsync();
                return (Exception?)null;
            }
            catch (Exception ex)
            {
                return ex;
            }
        });
        // Wait until the server shows it running, so tests never race the statement's start.
        await using var probe = new NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await probe.OpenAsync();
        for (var i = 0; i < 100; i++)
        {
            await using var command = new NpgsqlCommand("SELECT state FROM pg_stat_activity WHERE pid = @pid", probe);
            command.Parameters.AddWithValue("pid", pid);
            if (await command.ExecuteScalarAsync() is "active" or "idle in transaction")
                break;
            await Task.Delay(50);
        }
        return new SlowSession(connection, pid, running);
    }

    public async ValueTask DisposeAsync()
    {
        await using var killer = new NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await killer.OpenAsync();
        await using (var command = new NpgsqlCommand("SELECT pg_terminate_backend(@pid)", killer))
        {
            command.Parameters.AddWithValue("pid", Pid);
            await command.ExecuteScalarAsync();
        }
        await Running.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        await _connection.DisposeAsync();
    }
}
