using System.Globalization;
using System.Text.RegularExpressions;

namespace PuoOps.Engine.Backup;

/// <summary>
/// Follows pg_restore --verbose to tell when it is done with a table of the manifest, so the table can be counted
/// while pg_restore restores the rest:
/// <list type="bullet">
/// <item>with several jobs, "finished item &lt;id&gt;" lines name finished items by their id in pg_restore --list, and a
/// table is done once its data and its constraints are: adding a primary key, unique, exclusion or check constraint
/// locks the table exclusively, and a count holding the table then would keep that pg_restore job waiting;</item>
/// <item>with one job, a table's data is done when pg_restore starts its next item (its constraints come after all data).</item>
/// </list>
/// A table's rows cannot change after its data item: pg_restore writes rows there only. A table these lines cannot
/// name unambiguously (pg_restore does not quote names; "a" and "a b" in one schema) is never reported, and so is
/// counted after pg_restore. One caller at a time.
/// </summary>
internal sealed partial class PgRestoreProgress
{
    private readonly bool _parallel;
    private readonly Dictionary<int, BackupTable> _dataItems = [];
    private readonly Dictionary<int, BackupTable> _constraintItems = [];
    /// <summary>How many constraint items of each table are still to finish.</summary>
    private readonly Dictionary<BackupTable, int> _pending = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<BackupTable> _loaded = new(ReferenceEqualityComparer.Instance);
    /// <summary>"schema.name" as a "processing data for table" line quotes it.</summary>
    private readonly Dictionary<string, BackupTable> _byQuotedName = new(StringComparer.Ordinal);
    private BackupTable? _loading;

    /// <param name="tocEntries">pg_restore --list's entries ("id; catalog oid DESC schema tag owner").</param>
    public PgRestoreProgress(IReadOnlyList<BackupTable> tables, IReadOnlyList<string> tocEntries, int jobs)
    {
        _parallel = jobs > 1;
        foreach (var group in tables.GroupBy(t => $"\"{t.Schema}.{t.Name}\"", StringComparer.Ordinal).Where(g => g.Count() == 1))
            _byQuotedName[group.Key] = group.Single();
        foreach (var entry in tocEntries)
        {
            var match = TocEntry().Match(entry);
            if (!match.Success)
                continue;
            // An entry is the table's when exactly one table's "schema name " starts what follows its kind.
            var owners = tables.Where(t => match.Groups["rest"].Value.StartsWith($"{t.Schema} {t.Name} ", StringComparison.Ordinal)).Take(2).ToList();
            if (owners.Count != 1)
                continue;
            var id = int.Parse(match.Groups["id"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
            if (match.Groups["desc"].Value == "TABLE DATA")
                _dataItems[id] = owners[0];
            else
            {
                _constraintItems[id] = owners[0];
                _pending[owners[0]] = _pending.GetValueOrDefault(owners[0]) + 1;
            }
        }
    }

    /// <summary>The table pg_restore is done with as of this line, if any (each table once at most).</summary>
    public BackupTable? TableDone(string line)
    {
        if (!_parallel)
        {
            if (!ItemLine().IsMatch(line))
                return null;
            var done = _loading;
            var data = DataLine().Match(line);
            _loading = data.Success ? _byQuotedName.GetValueOrDefault(data.Groups["table"].Value) : null;
            return done;
        }
        var finished = FinishedItem().Match(line);
        if (!finished.Success)
            return null;
        var id = int.Parse(finished.Groups["id"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
        if (_dataItems.Remove(id, out var table))
            _loaded.Add(table);
        else if (_constraintItems.Remove(id, out table))
            _pending[table]--;
        else
            return null;
        return _loaded.Contains(table) && _pending.GetValueOrDefault(table) == 0 ? table : null;
    }

    /// <summary>A table's data, and what locks it exclusively after the data: primary key, unique, exclusion and check constraints.</summary>
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
