using System.Runtime.CompilerServices;

namespace PuoOps.Engine.Logs;

/// <summary>
/// The time a log line was written, from the first timestamp in it: ISO 8601 and its log variants
/// (<c>2026-11-29T10:00:00.123Z</c>, <c>2026-11-29 10:00:00,123</c> as Python's logging writes it,
/// <c>2026/11/29 10:00:00</c> as nginx's error log does, with or without an offset), or nginx's access log
/// time (<c>[29/Nov/2026:10:00:00 +0000]</c>). A time without an offset is taken as this machine's local time.
/// </summary>
public static class LogTime
{
    /// <summary>Whether a line's time is in [since, until]; with either given, a line without a time is not.</summary>
    public static bool InWindow(DateTimeOffset? time, DateTimeOffset? since, DateTimeOffset? until) =>
        (since is null && until is null) || (time is { } t && (since is not { } s || t >= s) && (until is not { } u || t <= u));

    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryFind(ReadOnlySpan<char> text, out DateTimeOffset time)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsAsciiDigit(c) && (i == 0 || !char.IsAsciiDigit(text[i - 1])) && TryIso(text[i..], out time))
                return true;
            if (c == '[' && TryCommonLog(text[(i + 1)..], out time))
                return true;
        }
        time = default;
        return false;
    }

    /// <summary><c>yyyy-MM-dd[T ]HH:mm:ss[.,fraction][Z|±hh[:]mm]</c>, also with '/' between the date's parts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryIso(ReadOnlySpan<char> s, out DateTimeOffset time)
    {
        time = default;
        if (s.Length < 19 || s[4] is not ('-' or '/') || s[7] != s[4] || s[10] is not ('T' or ' ') || s[13] != ':' || s[16] != ':'
            || !Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
            return false;
        var p = 19;
        var ticks = 0L;
        if (p + 1 < s.Length && s[p] is '.' or ',' && char.IsAsciiDigit(s[p + 1]))
        {
            var scale = TimeSpan.TicksPerSecond;
            for (p++; p < s.Length && char.IsAsciiDigit(s[p]); p++)
            {
                scale /= 10;
                ticks += (s[p] - '0') * scale;
            }
        }
        TimeSpan? offset = null;
        if (p < s.Length && s[p] == 'Z')
            offset = TimeSpan.Zero;
        else if (p < s.Length && s[p] is '+' or '-' && TryOffset(s[p..], out var parsed))
            offset = parsed;
        return TryCompose(year, month, day, hour, minute, second, ticks, offset, out time);
    }

    /// <summary>nginx's <c>$time_local</c>: <c>29/Nov/2026:10:00:00 +0000</c> (the '[' already read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryCommonLog(ReadOnlySpan<char> s, out DateTimeOffset time)
    {
        time = default;
        if (s.Length < 20 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':'
            || !Digits(s, 0, 2, out var day) || !Digits(s, 7, 4, out var year)
            || !Digits(s, 12, 2, out var hour) || !Digits(s, 15, 2, out var minute) || !Digits(s, 18, 2, out var second))
            return false;
        var month = 0;
        while (month < Months.Length && !s.Slice(3, 3).Equals(Months[month], StringComparison.OrdinalIgnoreCase))
            month++;
        month = month < Months.Length ? month + 1 : 0;
        TimeSpan? offset = s.Length > 21 && s[20] == ' ' && TryOffset(s[21..], out var parsed) ? parsed : null;
        return month > 0 && TryCompose(year, month, day, hour, minute, second, 0, offset, out time);
    }

    /// <summary><c>+hh:mm</c>, <c>+hhmm</c> or <c>+hh</c>.</summary>
    private static bool TryOffset(ReadOnlySpan<char> s, out TimeSpan offset)
    {
        offset = default;
        if (s.Length < 3 || !Digits(s, 1, 2, out var hours))
            return false;
        var minutes = 0;
        var colon = s.Length > 3 && s[3] == ':' ? 1 : 0;
        if (s.Length >= 5 + colon && !Digits(s, 3 + colon, 2, out minutes))
            minutes = 0;
        if (hours > 14 || minutes > 59)
            return false;
        offset = new TimeSpan(hours, minutes, 0) * (s[0] == '-' ? -1 : 1);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryCompose(int year, int month, int day, int hour, int minute, int second, long ticks, TimeSpan? offset, out DateTimeOffset time)
    {
        time = default;
        if (year < 1970 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
            return false;
        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified).AddTicks(ticks);
        time = new DateTimeOffset(local, offset ?? TimeZoneInfo.Local.GetUtcOffset(local));
        return true;
    }

    private static bool Digits(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            if (i >= s.Length || !char.IsAsciiDigit(s[i]))
                return false;
            value = value * 10 + (s[i] - '0');
        }
        return true;
    }
}
