using System.Globalization;

namespace PuoOps.Engine;

/// <summary>
/// The one way sizes and durations are written for people: in default views (through PuoOps.Commands.Display)
/// and in messages. Records keep the raw values (long bytes, TimeSpan).
/// </summary>
public static class Units
{
    private static readonly string[] ByteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

    /// <summary>Binary units with three significant digits: <c>1.50 KiB</c>, <c>500 GiB</c>; a negative or missing size (unknown) is empty.</summary>
    public static string Bytes(long? bytes)
    {
        if (bytes is not { } value || value < 0)
            return "";
        if (value < 1024)
            return value.ToString(CultureInfo.CurrentCulture) + " B";
        var scaled = (double)value;
        var unit = 0;
        while (scaled >= 1024 && unit < ByteUnits.Length - 1)
        {
            scaled /= 1024;
            unit++;
        }
        var format = scaled >= 100 ? "0" : scaled >= 10 ? "0.0" : "0.00";
        return scaled.ToString(format, CultureInfo.CurrentCulture) + " " + ByteUnits[unit];
    }

    /// <summary>
    /// A duration with the two units that matter: <c>850ms</c>, <c>4.2s</c>, <c>2m05s</c>, <c>3h07m</c>, <c>2d04h</c>;
    /// missing is empty.
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
