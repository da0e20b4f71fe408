using System.Globalization;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Npgsql;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Counts the rows of the manifest's tables in a database pg_restore is still filling, each table as soon as
/// pg_restore is done with it, so that few counts are left once pg_restore exits. Its --verbose lines say when:
/// <list type="bullet">
/// <item>with several jobs, "finished item &lt;id&gt;" names the table's data item, and the table is counted once its
/// data and its constraints (from pg_restore --list) are finished: adding a primary key or unique constraint locks
/// the table exclusively, and a count holding the table then would keep that pg_restore job waiting;</item>
/// <item>with one job, a table's data is done when pg_restore goes on to its next item (constraints come after all data).</item>
/// </list>
/// A table's rows cannot change after its data item: pg_restore writes rows there only. Counts beside pg_restore
/// use one core (no parallel workers, pg_restore's jobs have the others); the tables left when pg_restore exits
/// are counted with parallel workers.
/// </summary>
internal sealed partial class RestoredRowCounter : IAsyncDisposable
{
    private readonly OperationContext _ctx;
    private readonly string _database;
    private readonly IReadOnlyList<BackupTable> _tables;
    private readonly bool _parallel;
    private readonly Dictionary<int, BackupTable> _dataItems = [];
    /// <summary>The constraint items of each table still to finish (several jobs).</summary>
    private readonly Dictionary<int, BackupTable> _constraintItems = [];
    private readonly Dictionary<BackupTable, int> _pending = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<BackupTable> _loaded = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<BackupTable> _queued = new(ReferenceEqualityComparer.Instance);
    /// <summary>"schema.name" as pg_restore's "processing data for table" line quotes it (one job); ambiguous names left out.</summary>
    private readonly Dictionary<string, BackupTable> _byQuotedName = new(StringComparer.Ordinal);
    private readonly Channel<BackupTable> _queue = Channel.CreateUnbounded<BackupTable>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop;
    private readonly Task<Dictionary<BackupTable, long?>> _counting;
    private BackupTable? _loading;
    private volatile bool _restoreEnded;

    /// <param name="tocEntries">pg_restore --list's entries ("id; catalog oid DESC schema tag owner").</param>
    public RestoredRowCounter(OperationContext ctx, string database, IReadOnlyList<BackupTable> tables, IReadOnlyList<string> tocEntries, int jobs)
    {
        _ctx = ctx;
        _database = database;
        _tables = tables;
        _parallel = jobs > 1;
        foreach (var group in tables.GroupBy(t => $"\"{t.Schema}.{t.Name}\"", StringComparer.Ordinal).Where(g => g.Count() == 1))
            _byQuotedName[group.Key] = group.Single();
        foreach (var entry in tocEntries)
        {
            var match = TocEntry().Match(entry);
            if (!match.Success)
                continue;
            var id = int.Parse(match.Groups["id"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
            // Names are not quoted in the list: an entry is the table's when exactly one table's "schema name " starts it.
            var owners = tables.Where(t => match.Groups["rest"].Value.StartsWith($"{t.Schema} {t.Name} ", StringComparison.Ordinal)).Take(2).ToList();
            if (owners.Count != 1)
                continue;
            if (match.Groups["desc"].Value == "TABLE DATA")
                _dataItems[id] = owners[0];
            else
            {
                _constraintItems[id] = owners[0];
                _pending[owners[0]] = _pending.GetValueOrDefault(owners[0]) + 1;
            }
        }
        _stop = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        _counting = Task.Run(() => CountAsync(_stop.Token));
    }

    /// <summary>Takes one line of pg_restore --verbose (from any thread).</summary>
    public void Observe(string line)
    {
        lock (_queued)
        {
            if (_parallel)
            {
                var finished = FinishedItem().Match(line);
                if (!finished.Success)
                    return;
                var id = int.Parse(finished.Groups["id"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
                if (_dataItems.TryGetValue(id, out var table))
                    _loaded.Add(table);
                else if (_constraintItems.Remove(id, out table))
                    _pending[table]--;
                else
                    return;
                if (_loaded.Contains(table) && _pending.GetValueOrDefault(table) == 0)
                    Enqueue(table);
                return;
            }
            if (!line.StartsWith("pg_restore: ", StringComparison.Ordinal) || !ItemLine().IsMatch(line))
                return;
            if (_loading is not null)
                Enqueue(_loading);
            var data = DataLine().Match(line);
            _loading = data.Success ? _byQuotedName.GetValueOrDefault(data.Groups["table"].Value) : null;
        }
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
                    connection = await DatabaseAdmin.OpenAsync(_ctx, _database, cancellation).ConfigureAwait(false);
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
            exists.Parameters.AddWithValue("name", DatabaseAdmin.Quote(table));
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

    /// <summary>The table's data, and what locks it exclusively after the data: primary key, unique, exclusion and check constraints.</summary>
    [GeneratedRegex(@"^(?<id>\d+); \d+ \d+ (?<desc>TABLE DATA|CONSTRAINT|CHECK CONSTRAINT) (?<rest>.*)$")]
    private static partial Regex TocEntry();

    [GeneratedRegex(@"^pg_restore: finished item (?<id>\d+) ")]
    private static partial Regex FinishedItem();

    /// <summary>A line that starts an item (one job): the one before it is done.</summary>
    [GeneratedRegex(@"^pg_restore: (creating|processing|executing) ")]
    private static partial Regex ItemLine();

    [GeneratedRegex(@"^pg_restore: processing data for table (?<table>"".*"")$")]
    private static partial Regex DataLine();
}
