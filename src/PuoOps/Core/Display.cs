using System.Globalization;

namespace PuoOps.Commands;

/// <summary>
/// The one way default views show sizes and durations (PuoOps.Format.ps1xml calls these), so records keep raw
/// values (long bytes, TimeSpan) and every table reads alike: <c>1.5 GiB</c>, <c>2m05s</c>.
/// </summary>
public static class Display
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>Binary units with three significant digits; a negative or missing size (unknown) shows as empty.</summary>
    public static string Bytes(long? bytes)
    {
        if (bytes is not { } value || value < 0)
            return "";
        if (value < 1024)
            return value.ToString(CultureInfo.CurrentCulture) + " B";
        var scaled = (double)value;
        var unit = 0;
        while (scaled >= 1024 && unit < Units.Length - 1)
        {
            scaled /= 1024;
            unit++;
        }
        var format = scaled >= 100 ? "0" : scaled >= 10 ? "0.0" : "0.00";
        return scaled.ToString(format, CultureInfo.CurrentCulture) + " " + Units[unit];
    }

    /// <summary>
    /// A duration with the two units that matter: <c>850ms</c>, <c>4.2s</c>, <c>2m05s</c>, <c>3h07m</c>, <c>2d04h</c>;
    /// missing shows as empty.
    /// </summary>
    public static string Duration(TimeSpan? duration)
    {
        if (duration is not { } d)
            return "";
        var sign = d < TimeSpan.Zero ? "-" : "";
        d = d.Duration();
        return sign + (d.TotalSeconds < 1 ? $"{d.TotalMilliseconds.ToString("0.#", CultureInfo.CurrentCulture)}ms"
            : d.TotalMinutes < 1 ? $"{d.TotalSeconds.ToString("0.0", CultureInfo.CurrentCulture)}s"
            : d.TotalHours < 1 ? $"{d.Minutes}m{d.Seconds:00}s"
            : d.TotalDays < 1 ? $"{d.Hours}h{d.Minutes:00}m"
            : $"{(int)d.TotalDays}d{d.Hours:00}h");
    }
}
