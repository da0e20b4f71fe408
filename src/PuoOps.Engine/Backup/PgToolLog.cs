using System.Diagnostics;
using System.Text.RegularExpressions;

namespace PuoOps.Engine.Backup;

/// <summary>Reading what pg_dump, pg_restore and a migration command write to stderr.</summary>
internal static class PgToolLog
{
    /// <summary>The last lines that say something, without --verbose's routine ones: what goes into an error message.</summary>
    public static string LastLines(string tail) =>
        string.Join(" ", tail.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.Contains(": dumping contents", StringComparison.Ordinal) && !l.Contains(": reading ", StringComparison.Ordinal)
                        && !l.Contains(": processing ", StringComparison.Ordinal) && !l.Contains(": creating ", StringComparison.Ordinal))
            .TakeLast(4));
}

/// <summary>Turns pg_dump's --verbose lines into progress: the share of table bytes dumped so far.</summary>
internal sealed partial class DumpProgress(OperationContext ctx, string database, List<(BackupTable Table, long Bytes)> tables)
{
    private readonly long _total = Math.Max(1, tables.Sum(t => t.Bytes));
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private long _done;
    private long _current;

    public void OnLine(string line, bool isError)
    {
        var match = DumpingTable().Match(line);
        if (!match.Success)
            return;
        var table = tables.FirstOrDefault(t => $"{t.Table.Schema}.{t.Table.Name}" == match.Groups[1].Value);
        _done += Interlocked.Exchange(ref _current, table.Bytes);
        ctx.Log($"pg_dump: dumping {match.Groups[1].Value}");
        Report($"Dumping {match.Groups[1].Value} ({_watch.Elapsed:mm\\:ss})", (int)(_done * 98 / _total));
    }

    public void Report(string status, int percent) => ctx.Report(new ProgressInfo($"Backing up {database}", status, percent));

    public void Complete() => ctx.Report(new ProgressInfo($"Backing up {database}", "Done", 100, Completed: true));

    [GeneratedRegex("dumping contents of table \"(.+)\"")]
    private static partial Regex DumpingTable();
}
