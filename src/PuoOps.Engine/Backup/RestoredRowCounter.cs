using System.Threading.Channels;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Counts the rows of the manifest's tables in a database pg_restore is still filling, each table as soon as
/// <see cref="PgRestoreProgress"/> says pg_restore is done with it, so that few counts are left once pg_restore
/// exits. Counts beside pg_restore use one core (no parallel workers: pg_restore's jobs have the others); the tables
/// left when pg_restore exits are counted with parallel workers.
/// </summary>
internal sealed class RestoredRowCounter : IAsyncDisposable
{
    private readonly OperationContext _ctx;
    private readonly string _database;
    private readonly IReadOnlyList<BackupTable> _tables;
    private readonly PgRestoreProgress _progress;
    private readonly HashSet<BackupTable> _queued = new(ReferenceEqualityComparer.Instance);
    private readonly Channel<BackupTable> _queue = Channel.CreateUnbounded<BackupTable>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop;
    private readonly Task<Dictionary<BackupTable, long?>> _counting;
    private volatile bool _restoreEnded;

    /// <param name="tocEntries">pg_restore --list's entries, for <see cref="PgRestoreProgress"/>.</param>
    public RestoredRowCounter(OperationContext ctx, string database, IReadOnlyList<BackupTable> tables, IReadOnlyList<string> tocEntries, int jobs)
    {
        _ctx = ctx;
        _database = database;
        _tables = tables;
        _progress = new PgRestoreProgress(tables, tocEntries, jobs);
        _stop = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        _counting = Task.Run(() => CountAsync(_stop.Token));
    }

    /// <summary>Takes one line of pg_restore --verbose (from any thread).</summary>
    public void Observe(string line)
    {
        lock (_queued)
            if (_progress.TableDone(line) is { } table)
                Enqueue(table);
    }

    /// <summary>After pg_restore exited successfully: counts what is left and returns every table's count (null: the table is missing).</summary>
    public async Task<Dictionary<BackupTable, long?>> FinishAsync()
    {
        _restoreEnded = true;
        lock (_queued)
        {
            foreach (var table in _tables)
                Enqueue(table);
            _queue.Writer.TryComplete();
        }
        return await _counting.ConfigureAwait(false);
    }

    private void Enqueue(BackupTable table)
    {
        if (_queued.Add(table))
            _queue.Writer.TryWrite(table);
    }

    private async Task<Dictionary<BackupTable, long?>> CountAsync(CancellationToken cancellation)
    {
        var counts = new Dictionary<BackupTable, long?>(ReferenceEqualityComparer.Instance);
        NpgsqlConnection? connection = null;
        var parallelWorkers = true;
        try
        {
            await foreach (var table in _queue.Reader.ReadAllAsync(cancellation).ConfigureAwait(false))
            {
                if (connection is null)
                    connection = await PostgresConnections.OpenDatabaseAsync(new OperationContext(_ctx.Environment, _ctx.Timeout, cancellation, verbose: _ctx.Verbose), _database).ConfigureAwait(false);
                if (parallelWorkers != _restoreEnded)
                {
                    parallelWorkers = _restoreEnded;
                    await DatabaseAdmin.ExecuteAsync(connection, parallelWorkers ? "RESET max_parallel_workers_per_gather" : "SET max_parallel_workers_per_gather = 0", cancellation).ConfigureAwait(false);
                }
                var rows = counts[table] = await CountTableAsync(connection, table, cancellation).ConfigureAwait(false);
                if (!_restoreEnded)
                    _ctx.Log($"Counted {table} while pg_restore runs: {(rows is null ? "missing" : $"{rows:N0} rows")}.");
            }
        }
        finally
        {
            if (connection is not null)
                await connection.DisposeAsync().ConfigureAwait(false);
        }
        return counts;
    }

    private static async Task<long?> CountTableAsync(NpgsqlConnection connection, BackupTable table, CancellationToken cancellation)
    {
        await using (var exists = new NpgsqlCommand("SELECT to_regclass(@name) IS NOT NULL", connection))
        {
            exists.Parameters.AddWithValue("name", SqlQuote.Identifier(table.Schema, table.Name));
            if (await exists.ExecuteScalarAsync(cancellation).ConfigureAwait(false) is not true)
                return null;
        }
        return await DatabaseAdmin.CountAsync(connection, table, cancellation).ConfigureAwait(false);
    }

    /// <summary>Stops counting (pg_restore failed or was stopped) and waits for the count in progress to end.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (!_counting.IsCompleted)
            await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _counting.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Either FinishAsync already threw it, or pg_restore failed and that is what is reported.
        }
        _stop.Dispose();
    }
}
