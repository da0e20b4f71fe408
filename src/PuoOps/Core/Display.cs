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
}
