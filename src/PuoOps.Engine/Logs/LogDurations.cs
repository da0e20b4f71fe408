using System.Runtime.CompilerServices;
using System.Text;

namespace PuoOps.Engine.Logs;

/// <summary>
/// Durations as log lines write them, read from the raw bytes so that only the lines that qualify get decoded:
/// <c>duration=1234ms</c>, <c>duration_ms=1234</c>, <c>durationMs: 12</c>, <c>"duration": 1.234</c>,
/// <c>Duration: 2.5 s</c>, <c>took 1.2s</c>, <c>took 350 ms</c>. The unit after the number wins, else the unit in
/// the key's name (<c>_ms</c>, <c>_s</c>, <c>_seconds</c>, <c>_us</c>); a bare number is seconds as the value of a
/// JSON key (<c>"duration": 1.234</c>) and milliseconds otherwise (<c>duration=1234</c>, what the runbook's
/// <c>grep -E "duration.*[0-9]{4,}"</c> assumes).
/// </summary>
// The per-line methods of the log readers are compiled fully optimized at once (AggressiveOptimization): a GB of log
// runs them millions of times within a second, before tiered compilation would have optimized them.
public static class LogDurations
{
    private static ReadOnlySpan<byte> Duration => "uration"u8; // after 'd' or 'D'
    private static ReadOnlySpan<byte> Took => "ook"u8;         // after 't' or 'T'

    /// <summary>The longest duration written in <paramref name="line"/>, or null when it has none.</summary>
    public static TimeSpan? Longest(ReadOnlySpan<byte> line)
    {
        TimeSpan? longest = null;
        var finder = new Finder(line);
        for (var from = 0; finder.Next(from, out _, out var duration, out var end); from = end)
        {
            if (longest is null || duration > longest)
                longest = duration;
        }
        return longest;
    }

    /// <summary>
    /// Walks the durations of a text in order, searching for both keywords with vectorized IndexOf and
    /// remembering each keyword's next hit, so a keyword that never occurs costs one pass, not one per hit.
    /// </summary>
    internal ref struct Finder(ReadOnlySpan<byte> text)
    {
        private readonly ReadOnlySpan<byte> _text = text;
        private int _nextDuration = -1;
        private int _nextTook = -1;
        private int _searchedDuration = -1; // _nextDuration is valid for searches from up to here
        private int _searchedTook = -1;

        /// <summary>The first duration whose keyword starts at or after <paramref name="from"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool Next(int from, out int keyword, out TimeSpan duration, out int end)
        {
            while (true)
            {
                var d = NextHit(Duration, from, ref _nextDuration, ref _searchedDuration);
                var t = NextHit(Took, from, ref _nextTook, ref _searchedTook);
                if (d < 0 && t < 0)
                {
                    keyword = end = -1;
                    duration = default;
                    return false;
                }
                var isTook = d < 0 || (t >= 0 && t < d);
                var hit = isTook ? t : d;
                keyword = hit - 1;
                if ((isTook ? TryTook(_text, hit, out duration, out end) : TryDuration(_text, hit, out duration, out end)))
                    return true;
                from = hit + 1;
            }
        }

        private readonly int NextHit(ReadOnlySpan<byte> word, int from, ref int next, ref int searched)
        {
            // From a later start than the last search, its hit is still the next one unless it lies before the start.
            if (searched >= 0 && from >= searched && (next < 0 || next >= from))
                return next;
            from = Math.Max(from, 1); // the keyword's first letter is before the hit
            var index = from < _text.Length ? _text[from..].IndexOf(word) : -1;
            next = index < 0 ? -1 : from + index;
            searched = from;
            return next;
        }
    }

    /// <summary>At <paramref name="hit"/>: "uration" after 'd'/'D', then a unit suffix, a separator and the value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryDuration(ReadOnlySpan<byte> s, int hit, out TimeSpan duration, out int end)
    {
        duration = default;
        end = hit + 7;
        if (s[hit - 1] is not ((byte)'d' or (byte)'D'))
            return false;
        var p = end;
        if (p < s.Length && s[p] is (byte)'_' or (byte)'-')
            p++;
        var suffixStart = p;
        while (p < s.Length && char.IsAsciiLetter((char)s[p]))
            p++;
        double? keyUnit = null;
        if (p > suffixStart)
        {
            keyUnit = Unit(s[suffixStart..p]);
            if (keyUnit is null)
                return false; // durations=, duration_bucket=, ...
        }
        else if (suffixStart > end)
            return false;
        var json = p < s.Length && s[p] == (byte)'"';
        if (json)
            p++;
        var q = SkipSpaces(s, p);
        if (q < s.Length && s[q] is (byte)'=' or (byte)':')
            q = SkipSpaces(s, q + 1);
        else if (q == p)
            return false; // durationX, duration(...
        p = q;
        if (p < s.Length && s[p] == (byte)'"')
            p++;
        return TryValue(s, p, keyUnit ?? (json ? TimeSpan.TicksPerSecond : TimeSpan.TicksPerMillisecond), out duration, out end);
    }

    /// <summary>At <paramref name="hit"/>: "ook" after a 't'/'T' that starts a word, then a space and the value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryTook(ReadOnlySpan<byte> s, int hit, out TimeSpan duration, out int end)
    {
        duration = default;
        end = hit + 3;
        if (s[hit - 1] is not ((byte)'t' or (byte)'T') || (hit >= 2 && char.IsAsciiLetter((char)s[hit - 2])))
            return false;
        var p = end;
        if (p < s.Length && s[p] == (byte)':')
            p++;
        if (p >= s.Length || s[p] != (byte)' ')
            return false;
        return TryValue(s, SkipSpaces(s, p), TimeSpan.TicksPerMillisecond, out duration, out end);
    }

    /// <summary>A number, then optionally a unit right after it or after one space.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryValue(ReadOnlySpan<byte> s, int p, double defaultUnit, out TimeSpan duration, out int end)
    {
        duration = default;
        end = p;
        var start = p;
        var value = 0d;
        while (p < s.Length && char.IsAsciiDigit((char)s[p]) && p - start < 15)
            value = value * 10 + (s[p++] - '0');
        if (p == start)
            return false;
        if (p + 1 < s.Length && s[p] == (byte)'.' && char.IsAsciiDigit((char)s[p + 1]))
        {
            var scale = 1d;
            for (p++; p < s.Length && char.IsAsciiDigit((char)s[p]); p++)
                value += (s[p] - '0') * (scale /= 10);
        }
        var unit = defaultUnit;
        var attached = p;
        var spaced = attached < s.Length && s[attached] == (byte)' ' ? attached + 1 : -1;
        if (WordAt(s, attached, out var word) is { } u)
            (unit, p) = (u, attached + word);
        else if (word > 0)
            return false; // 12x, 1.5kb: not a duration
        else if (spaced > 0 && WordAt(s, spaced, out word) is { } v)
            (unit, p) = (v, spaced + word);
        end = p;
        var ticks = value * unit;
        duration = ticks >= TimeSpan.MaxValue.Ticks / 2 ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)ticks);
        return true;
    }

    /// <summary>The unit (in ticks) of the word at <paramref name="p"/>, or null; <paramref name="length"/> is the word's length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double? WordAt(ReadOnlySpan<byte> s, int p, out int length)
    {
        var q = p;
        // µ is two bytes in UTF-8 (C2 B5).
        if (q + 1 < s.Length && s[q] == 0xC2 && s[q + 1] == 0xB5)
            q += 2;
        while (q < s.Length && char.IsAsciiLetter((char)s[q]))
            q++;
        length = q - p;
        return length == 0 ? null : Unit(s[p..q]);
    }

    private static readonly (byte[] Name, double Ticks)[] Units =
    [
        ("ms"u8.ToArray(), TimeSpan.TicksPerMillisecond), ("s"u8.ToArray(), TimeSpan.TicksPerSecond),
        ("msec"u8.ToArray(), TimeSpan.TicksPerMillisecond), ("msecs"u8.ToArray(), TimeSpan.TicksPerMillisecond),
        ("millis"u8.ToArray(), TimeSpan.TicksPerMillisecond), ("milliseconds"u8.ToArray(), TimeSpan.TicksPerMillisecond),
        ("sec"u8.ToArray(), TimeSpan.TicksPerSecond), ("secs"u8.ToArray(), TimeSpan.TicksPerSecond),
        ("second"u8.ToArray(), TimeSpan.TicksPerSecond), ("seconds"u8.ToArray(), TimeSpan.TicksPerSecond),
        ("us"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1000d), ("\u00b5s"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1000d),
        ("usec"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1000d), ("micros"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1000d),
        ("microseconds"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1000d),
        ("ns"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1e6), ("nanos"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1e6),
        ("nanoseconds"u8.ToArray(), TimeSpan.TicksPerMillisecond / 1e6),
        ("m"u8.ToArray(), TimeSpan.TicksPerMinute), ("min"u8.ToArray(), TimeSpan.TicksPerMinute),
        ("mins"u8.ToArray(), TimeSpan.TicksPerMinute), ("minute"u8.ToArray(), TimeSpan.TicksPerMinute),
        ("minutes"u8.ToArray(), TimeSpan.TicksPerMinute),
        ("h"u8.ToArray(), TimeSpan.TicksPerHour), ("hr"u8.ToArray(), TimeSpan.TicksPerHour), ("hrs"u8.ToArray(), TimeSpan.TicksPerHour),
        ("hour"u8.ToArray(), TimeSpan.TicksPerHour), ("hours"u8.ToArray(), TimeSpan.TicksPerHour),
    ];

    /// <summary>The length of a unit word in ticks, any case; null for a word that is no unit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double? Unit(ReadOnlySpan<byte> word)
    {
        foreach (var (name, ticks) in Units)
        {
            if (name.Length == word.Length && (Ascii.EqualsIgnoreCase(name, word) || name.AsSpan().SequenceEqual(word)))
                return ticks;
        }
        return null;
    }

    private static int SkipSpaces(ReadOnlySpan<byte> s, int p)
    {
        while (p < s.Length && s[p] is (byte)' ' or (byte)'\t')
            p++;
        return p;
    }
}
