using System.Globalization;
using System.Text.RegularExpressions;

namespace PuoOps.Engine;

/// <summary>
/// How an operator may write a duration or a point in time, in one place for every cmdlet: durations as
/// <c>500ms</c>, <c>90s</c>, <c>30m</c>, <c>1h30m</c>, <c>2d</c>, <c>1w</c> or <c>hh:mm:ss</c>; points in time as a
/// date (<c>2026-11-29 10:00</c>, ISO 8601 with or without offset) or as a duration counted back from now
/// (<c>-Since 1h</c> is an hour ago).
/// </summary>
public static partial class TimeInput
{
    /// <summary>Parses a duration; false when <paramref name="text"/> is none of the accepted spellings.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan duration)
    {
        duration = default;
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
            return false;
        var units = ShortDuration().Match(trimmed);
        if (units.Success)
        {
            var total = TimeSpan.Zero;
            foreach (Capture part in units.Groups["part"].Captures)
            {
                var unit = Unit().Match(part.Value);
                var amount = double.Parse(unit.Groups["n"].Value, CultureInfo.InvariantCulture);
                total += unit.Groups["u"].Value.ToLowerInvariant() switch
                {
                    "ms" => TimeSpan.FromMilliseconds(amount),
                    "s" => TimeSpan.FromSeconds(amount),
                    "m" or "min" => TimeSpan.FromMinutes(amount),
                    "h" => TimeSpan.FromHours(amount),
                    "d" => TimeSpan.FromDays(amount),
                    _ => TimeSpan.FromDays(7 * amount), // "w"
                };
            }
            duration = total;
            return true;
        }
        return trimmed.Contains(':') && TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out duration);
    }

    /// <summary>A duration, or InvalidArgument listing the accepted spellings.</summary>
    public static TimeSpan ParseDuration(string text) =>
        TryParseDuration(text, out var duration) ? duration
            : throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Time.InvalidDuration",
                $"'{text}' is not a duration. Write it like 500ms, 90s, 30m, 1h30m, 2d or 00:05:00.", text);

    /// <summary>
    /// A point in time from a date or a duration back from <paramref name="now"/>. A bare number is refused
    /// as ambiguous rather than guessed.
    /// </summary>
    public static DateTimeOffset ParsePointInTime(string text, DateTimeOffset now)
    {
        if (TryParseDuration(text, out var back))
            return BackFrom(now, back);
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AssumeLocal, out var invariant))
            return invariant;
        if (DateTimeOffset.TryParse(text, CultureInfo.CurrentCulture, DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.AssumeLocal, out var local))
            return local;
        throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Time.InvalidPointInTime",
            $"'{text}' is neither a date nor a duration back from now. Write it like 1h, 30m, 2d or 2026-11-29T10:00:00Z.", text);
    }

    /// <summary><paramref name="now"/> minus a positive duration.</summary>
    public static DateTimeOffset BackFrom(DateTimeOffset now, TimeSpan back) =>
        back > TimeSpan.Zero
            ? now - back
            : throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Time.InvalidDuration",
                $"A duration back from now must be positive (got {back}); write e.g. 1h for an hour ago.", back);

    /// <summary>InvalidArgument unless <paramref name="since"/> is not after <paramref name="until"/>.</summary>
    public static void ValidateWindow(DateTimeOffset? since, DateTimeOffset? until)
    {
        if (since is { } s && until is { } u && s > u)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Time.InvalidWindow",
                $"-Since ({s:o}) is after -Until ({u:o}); nothing could match.", since);
    }

    [GeneratedRegex(@"^(?<part>\d+(\.\d+)?\s*(ms|min|s|m|h|d|w))+$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ShortDuration();

    [GeneratedRegex(@"^(?<n>\d+(\.\d+)?)\s*(?<u>ms|min|s|m|h|d|w)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Unit();
}
