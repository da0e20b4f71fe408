namespace PuoOps.Commands;

/// <summary>
/// What default views (PuoOps.Format.ps1xml) call to show sizes and durations, so records keep raw values
/// (long bytes, TimeSpan) and every table reads alike: <c>1.5 GiB</c>, <c>2m05s</c>. The engine's
/// <see cref="Engine.Units"/> writes them, the same way it does in messages.
/// </summary>
public static class Display
{
    /// <summary>Binary units with three significant digits; a negative or missing size (unknown) shows as empty.</summary>
    public static string Bytes(long? bytes) => Engine.Units.Bytes(bytes);

    /// <summary>A duration with the two units that matter (<c>850ms</c>, <c>2m05s</c>, <c>2d04h</c>); missing shows as empty.</summary>
    public static string Duration(TimeSpan? duration) => Engine.Units.Duration(duration);

    /// <summary>
    /// Text broken into lines of at most <paramref name="width"/> characters at spaces (a longer word is split), for
    /// the last column of a view with <c>&lt;Wrap/&gt;</c>: PowerShell itself wraps a cell in the middle of a word.
    /// Beyond <paramref name="maxLines"/> lines the text is cut, and the last line ends in an ellipsis.
    /// </summary>
    public static string Wrap(string? text, int width, int maxLines = int.MaxValue)
    {
        var lines = new List<string>();
        var line = new System.Text.StringBuilder();
        foreach (var word in (text ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            for (var rest = word; rest.Length > 0;)
            {
                if (line.Length > 0 && line.Length + 1 + Math.Min(rest.Length, width) > width)
                {
                    lines.Add(line.ToString());
                    line.Clear();
                }
                if (line.Length > 0)
                    line.Append(' ');
                var take = Math.Min(rest.Length, width - line.Length);
                line.Append(rest, 0, take);
                rest = rest[take..];
            }
        }
        if (line.Length > 0)
            lines.Add(line.ToString());
        if (lines.Count > maxLines)
        {
            lines.RemoveRange(maxLines, lines.Count - maxLines);
            var last = lines[^1];
            lines[^1] = (last.Length < width ? last : last[..(width - 1)]) + "…";
        }
        return string.Join("\n", lines);
    }
}
