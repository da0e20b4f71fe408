using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// The scratch databases Test-PuoBackup -Restore and Restore-PuoBackup restore into. A run that owns
/// one holds a session-level advisory lock derived from its name for the scratch database's whole life;
/// the server releases that lock when the run's process dies, however it dies (kill -9 included).
/// Two things act on that:
/// - a guard process started with the lock (<see cref="HoldAsync"/>) waits for it and drops the
///   database at once if it still exists, so a killed run leaves nothing behind;
/// - if the guard died too (its whole process group killed), a scratch database (named by
///   <see cref="NewName"/> and marked by its comment) whose lock can be taken is an orphan of a dead
///   run, and the next run drops it; one whose lock is held is left alone.
/// </summary>
internal static partial class ScratchDatabases
{
    /// <summary>The comment every scratch database gets: with the name pattern, what marks it as ours.</summary>
    private const string Marker = "PuoOps scratch database";

    /// <summary>
    /// Where the locks are taken and checked: advisory locks belong to one database, so the run holding a lock
    /// and the run looking for orphans must both connect to the same one.
    /// </summary>
    private const string LockDatabase = "postgres";

    /// <summary>A name for a new scratch database: &lt;base&gt;_&lt;purpose&gt;_&lt;8 hex digits&gt;, within PostgreSQL's 63 bytes.</summary>
    public static string NewName(string baseName, string purpose)
    {
        var stem = baseName.Length > 40 ? baseName[..40] : baseName;
        return $"{stem}_{purpose}_{Guid.NewGuid().ToString("N")[..8]}";
    }

    /// <summary>
    /// Takes the scratch database's lock on a connection of its own, kept open until the returned
    /// object is disposed (dispose it only after the database is dropped or renamed away), and starts
    /// its guard before the database exists.
    /// </summary>
    public static async Task<IAsyncDisposable> HoldAsync(OperationContext ctx, string database, string? pgBinPath)
    {
        var connection = await PostgresConnections.OpenDatabaseAsync(ctx, LockDatabase).ConfigureAwait(false);
        try
        {
            await using var command = connection.Command("SELECT pg_advisory_lock(@key)", ctx);
            command.Parameters.AddWithValue("key", LockKey(database));
            await command.ExecuteNonQueryAsync(ctx.Cancellation).ConfigureAwait(false);
            try
            {
                StartGuard(ctx, await DatabaseAdmin.ServerMajorAsync(connection, ctx).ConfigureAwait(false), database, pgBinPath);
            }
            catch (PuoException ex)
            {
                // No psql to guard with: the next run's DropOrphansAsync still drops what a killed run leaves.
                ctx.Log($"No guard for the scratch database {database}: {ex.Message}");
            }
            return connection; // closing the session releases the lock
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The guard of a held scratch database: a psql that waits for the database's lock, then drops the
    /// database if it still exists, and exits. The lock frees when this run's lock connection closes:
    /// normally after the run dropped or renamed the database, so the guard finds nothing; if this
    /// process was killed, at once, and the guard drops the database (closing the connections of a
    /// pg_restore the dead run left running). Ctrl+C in a console reaches the guard too and cancels its
    /// wait, so it ends without dropping anything (ON_ERROR_STOP) while the run cleans up itself.
    /// </summary>
    private static void StartGuard(OperationContext ctx, int serverMajor, string database, string? pgBinPath)
    {
        var environment = PgTools.Environment(PostgresConnections.Endpoint(ctx), ctx, "PuoOps scratch guard");
        environment["PGOPTIONS"] = "-c statement_timeout=0 -c lock_timeout=0 -c client_min_messages=warning";
        PgTools.StartDetached(PgTools.Locate("psql", serverMajor, pgBinPath),
        [
            "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", PgTools.DatabaseArgument(LockDatabase),
            "-c", $"SELECT pg_advisory_lock({LockKey(database).ToString(CultureInfo.InvariantCulture)})",
            "-c", $"DROP DATABASE IF EXISTS {SqlQuote.Identifier(database)} WITH (FORCE)",
        ], environment);
    }

    /// <summary>
    /// Creates the scratch database (the caller holds its lock), with the owner, encoding, locale and
    /// tablespace of <paramref name="like"/> if given, and marks it as ours.
    /// </summary>
    public static async Task CreateAsync(OperationContext ctx, NpgsqlConnection admin, string database, string purpose, DatabaseProperties? like)
    {
        var create = like?.CreateStatement(database) ?? $"CREATE DATABASE {SqlQuote.Identifier(database)} TEMPLATE template0";
        await DatabaseAdmin.ExecuteAsync(admin, create, ctx.Cancellation).ConfigureAwait(false);
        await DatabaseAdmin.ExecuteAsync(admin, $"COMMENT ON DATABASE {SqlQuote.Identifier(database)} IS {SqlQuote.Literal($"{Marker}: {purpose}")}",
            ctx.Cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// Drops the scratch databases left by runs that died (their lock is free) and returns their names;
    /// with <paramref name="dryRun"/> only names them. A scratch database whose lock is held belongs to
    /// a live run and is never touched.
    /// </summary>
    public static async Task<IReadOnlyList<string>> DropOrphansAsync(OperationContext ctx, bool dryRun)
    {
        await using var admin = await PostgresConnections.OpenDatabaseAsync(ctx, LockDatabase).ConfigureAwait(false);
        var candidates = new List<string>();
        await using (var find = admin.Command(
            "SELECT datname FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE @marker ORDER BY 1", ctx))
        {
            find.Parameters.AddWithValue("marker", Marker + ":%");
            await using var reader = await find.ExecuteReaderAsync(ctx.Cancellation).ConfigureAwait(false);
            while (await reader.ReadAsync(ctx.Cancellation).ConfigureAwait(false))
                if (Named().IsMatch(reader.GetString(0)))
                    candidates.Add(reader.GetString(0));
        }
        var orphans = new List<string>();
        foreach (var name in candidates)
        {
            if (!await LockAsync(admin, ctx, "pg_try_advisory_lock", name, ctx.Cancellation).ConfigureAwait(false))
            {
                ctx.Log($"Scratch database {name} belongs to a run still in progress; left alone.");
                continue;
            }
            try
            {
                orphans.Add(name);
                if (dryRun)
                    continue;
                ctx.Log($"Dropping the scratch database {name}: the run that created it ended without dropping it (its process died).");
                await DatabaseAdmin.ExecuteAsync(admin, $"DROP DATABASE IF EXISTS {SqlQuote.Identifier(name)} WITH (FORCE)", ctx.Cancellation).ConfigureAwait(false);
            }
            catch (PostgresException ex)
            {
                // Not ours to drop after all (another owner, no privilege): the restore itself does not need it gone.
                ctx.Log($"Could not drop the orphaned scratch database {name} ({ex.MessageText}); drop it by hand: DROP DATABASE {SqlQuote.Identifier(name)} WITH (FORCE);");
            }
            finally
            {
                await LockAsync(admin, ctx, "pg_advisory_unlock", name, CancellationToken.None).ConfigureAwait(false);
            }
        }
        return orphans;
    }

    private static async Task<bool> LockAsync(NpgsqlConnection admin, OperationContext ctx, string function, string database, CancellationToken cancellation)
    {
        await using var command = admin.Command($"SELECT {function}(@key)", ctx);
        command.Parameters.AddWithValue("key", LockKey(database));
        return (bool)(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false))!;
    }

    /// <summary>A stable 64-bit advisory lock key for a scratch database's name.</summary>
    internal static long LockKey(string database) =>
        BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("PuoOps.scratch:" + database)));

    [GeneratedRegex("_(restore|verify)_[0-9a-f]{8}$")]
    private static partial Regex Named();
}
