using System.Diagnostics;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>The runbook's pg_isready and "SELECT version();", as one check.</summary>
public static class PostgresHealthService
{
    public static async Task<PostgresHealth> TestAsync(OperationContext ctx)
    {
        var target = PostgresConnections.Endpoint(ctx).DisplayName;
        try
        {
            return await PostgresConnections.ReadAsync(ctx, connection => ProbeAsync(connection, ctx, target)).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
        {
            var error = ErrorTranslator.Translate(ex, ctx.Environment);
            return new PostgresHealth
            {
                Environment = ctx.Environment.Name, Target = target, Status = Status.Critical,
                // A server that rejects the password is up: pg_isready would call it accepting connections.
                Reachable = error.Kind is ErrorKind.Authentication or ErrorKind.PermissionDenied or ErrorKind.NotFound,
                Message = error.Message,
            };
        }
    }

    private static async Task<PostgresHealth> ProbeAsync(NpgsqlConnection connection, OperationContext ctx, string target)
    {
        await using var command = connection.Command(
            "SELECT split_part(current_setting('server_version'), ' ', 1), pg_is_in_recovery(), current_database(), current_user", ctx);
        string version, database, user;
        bool inRecovery;
        await using (var reader = await command.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false))
        {
            await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false);
            (version, inRecovery, database, user) = (reader.GetString(0), reader.GetBoolean(1), reader.GetString(2), reader.GetString(3));
        }
        // Best of three round trips: the first can include pool warm-up, and one sample is noise.
        var latency = TimeSpan.MaxValue;
        await using var ping = connection.Command("SELECT 1", ctx);
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            await ping.ExecuteScalarAsync(ctx.Cancellation).ConfigureAwait(false);
            latency = watch.Elapsed < latency ? watch.Elapsed : latency;
        }
        return new PostgresHealth
        {
            Environment = ctx.Environment.Name, Target = target, Status = Status.OK, Reachable = true, Authenticated = true,
            ServerVersion = version, Latency = latency, InRecovery = inRecovery, Database = database, User = user,
            Message = inRecovery ? "Accepting connections (read-only standby)." : "Accepting connections.",
        };
    }
}
