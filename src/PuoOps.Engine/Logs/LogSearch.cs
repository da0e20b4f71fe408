using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;

namespace PuoOps.Engine.Logs;

/// <summary>
/// What Search-PuoLog looks for. All given conditions must hold: the line matches <see cref="Pattern"/>, has a
/// duration of at least <see cref="SlowerThan"/>, and its time lies in [<see cref="Since"/>, <see cref="Until"/>]
/// (a line without a time is outside any window). With none given, every line matches.
/// </summary>
public sealed record LogSearchOptions(Regex? Pattern = null, TimeSpan? SlowerThan = null, DateTimeOffset? Since = null, DateTimeOffset? Until = null)
{
    internal bool InWindow(DateTimeOffset? time) => LogTime.InWindow(time, Since, Until);
}

/// <summary>
/// The runbook's <c>grep -E "duration.*[0-9]{4,}" performance_metrics.log</c>, done properly: lines whose written
/// duration is at least a threshold, or that match a regular expression, in a time window, from plain or gzip files,
/// streamed in file order with their line numbers. A chunk is searched as bytes (durations) or as one decoded span
/// (a pattern, so the regex engine's vectorized search runs over it); only matching lines become strings.
/// </summary>
public static class LogSearch
{
    /// <summary>Creates the regex for -Pattern; an invalid one is InvalidArgument.</summary>
    public static Regex Pattern(string pattern, bool caseSensitive)
    {
        try
        {
            // Multiline: ^ and $ match at each line's start and end, as grep reads them.
            return new Regex(pattern, RegexOptions.Multiline | RegexOptions.CultureInvariant | RegexOptions.Compiled
                | (caseSensitive ? RegexOptions.None : RegexOptions.IgnoreCase));
        }
        catch (ArgumentException ex)
        {
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Logs.InvalidPattern",
                $"-Pattern '{pattern}' is not a valid regular expression: {ex.Message}", pattern, ex);
        }
    }

    public static IEnumerable<LogLine> Search(string file, LogSearchOptions options, LogScanStats stats,
        Action<ProgressInfo>? progress, CancellationToken cancellation)
    {
        foreach (var chunk in LogReader.Scan(file, c => Scan(c.Bytes, options), stats, progress, cancellation))
        {
            foreach (var found in chunk.Result)
            {
                yield return new LogLine
                {
                    File = file,
                    LineNumber = chunk.FirstLineNumber + found.Index,
                    Time = found.Time,
                    Duration = found.Duration,
                    Line = found.Text,
                };
            }
        }
    }

    /// <summary>A matching line of a chunk; <see cref="Index"/> counts from the chunk's first line (0).</summary>
    internal sealed record Found(long Index, string Text, TimeSpan? Duration, DateTimeOffset? Time);

    internal static List<Found> Scan(ReadOnlySpan<byte> bytes, LogSearchOptions options)
    {
        var found = new List<Found>();
        if (options.SlowerThan is { } threshold)
            ScanDurations(bytes, threshold, options, found);
        else if (options.Pattern is { } pattern)
            ScanPattern(bytes, pattern, options, found);
        else
            ScanAll(bytes, options, found);
        return found;
    }

    /// <summary>Goes from duration to duration through the bytes; only a line with a long enough one is decoded.</summary>
    // The scan loops run once per chunk over every line: AggressiveOptimization skips the slow first JIT tier.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanDurations(ReadOnlySpan<byte> bytes, TimeSpan threshold, LogSearchOptions options, List<Found> found)
    {
        var lines = new LineCounter();
        var finder = new LogDurations.Finder(bytes);
        var from = 0;
        while (finder.Next(from, out var keyword, out var duration, out var end))
        {
            if (duration < threshold)
            {
                from = end;
                continue;
            }
            var start = bytes[..keyword].LastIndexOf((byte)'\n') + 1;
            var stop = LineEnd(bytes, keyword);
            var line = TrimCarriageReturn(bytes[start..stop]);
            var text = Encoding.UTF8.GetString(line);
            if (options.Pattern is null || options.Pattern.IsMatch(text))
                Add(found, lines.IndexOf(bytes, start), text, LogDurations.Longest(line), options);
            from = stop + 1;
        }
    }

    /// <summary>
    /// Runs the regex over the whole chunk decoded once (line endings as '\n'), then maps each match to its line.
    /// A match that runs past its line's end is checked again on that line alone, so lines match as grep's do.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanPattern(ReadOnlySpan<byte> bytes, Regex pattern, LogSearchOptions options, List<Found> found)
    {
        var buffer = ArrayPool<char>.Shared.Rent(Math.Max(1, bytes.Length));
        try
        {
            var length = WithoutCarriageReturns(buffer.AsSpan(0, Encoding.UTF8.GetChars(bytes, buffer)));
            ReadOnlySpan<char> text = buffer.AsSpan(0, length);
            var lines = new LineCounter();
            var from = 0;
            while (from < text.Length && FirstMatch(pattern, text, from) is var (index, matchLength) && index >= 0)
            {
                var start = text[..index].LastIndexOf('\n') + 1;
                if (start == text.Length)
                    break; // an empty match after the last line ending
                var newline = text[index..].IndexOf('\n');
                var stop = newline < 0 ? text.Length : index + newline;
                var line = text[start..stop];
                if (index + matchLength <= stop || pattern.IsMatch(line))
                {
                    var lineText = line.ToString();
                    Add(found, lines.IndexOf(text, start), lineText, LogDurations.Longest(Encoding.UTF8.GetBytes(lineText)), options);
                }
                from = stop + 1;
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    /// <summary>No pattern, no threshold: every line, or every line in the time window.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScanAll(ReadOnlySpan<byte> bytes, LogSearchOptions options, List<Found> found)
    {
        var index = 0L;
        for (var start = 0; start < bytes.Length; index++)
        {
            var stop = LineEnd(bytes, start);
            var line = TrimCarriageReturn(bytes[start..stop]);
            Add(found, index, Encoding.UTF8.GetString(line), LogDurations.Longest(line), options);
            start = stop + 1;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add(List<Found> found, long index, string text, TimeSpan? duration, LogSearchOptions options)
    {
        DateTimeOffset? time = LogTime.TryFind(text, out var t) ? t : null;
        if (options.InWindow(time))
            found.Add(new Found(index, text, duration, time));
    }

    private static (int Index, int Length) FirstMatch(Regex pattern, ReadOnlySpan<char> text, int from)
    {
        foreach (var match in pattern.EnumerateMatches(text, from))
            return (match.Index, match.Length);
        return (-1, 0);
    }

    /// <summary>The index of the '\n' ending the line at <paramref name="position"/>, or the end of the chunk.</summary>
    private static int LineEnd(ReadOnlySpan<byte> bytes, int position)
    {
        var newline = bytes[position..].IndexOf((byte)'\n');
        return newline < 0 ? bytes.Length : position + newline;
    }

    internal static ReadOnlySpan<byte> TrimCarriageReturn(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == (byte)'\r' ? line[..^1] : line;

    /// <summary>Drops each '\r' that ends a line (CRLF to LF, and a last line's), in place; returns the new length.</summary>
    private static int WithoutCarriageReturns(Span<char> text)
    {
        if (!text.Contains('\r'))
            return text.Length;
        var kept = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\r' && (i + 1 == text.Length || text[i + 1] == '\n'))
                continue;
            text[kept++] = text[i];
        }
        return kept;
    }

    /// <summary>Line indexes of positions visited in increasing order, counting newlines only once.</summary>
    private struct LineCounter
    {
        private int _counted;
        private long _index;

        public long IndexOf(ReadOnlySpan<byte> text, int lineStart)
        {
            _index += text[_counted..lineStart].Count((byte)'\n');
            _counted = lineStart;
            return _index;
        }

        public long IndexOf(ReadOnlySpan<char> text, int lineStart)
        {
            _index += text[_counted..lineStart].Count('\n');
            _counted = lineStart;
            return _index;
        }
    }
}
