namespace PuoOps.Engine.Secrets;

/// <summary>
/// Where Claude Desktop and Cursor keep their MCP config on this machine's OS. Windows: Claude Desktop in
/// %APPDATA%\Claude\, or, when installed as an MSIX package (the installer's default since early 2026), in the
/// package's virtualized %LOCALAPPDATA%\Packages\Claude_*\LocalCache\Roaming\Claude\, the only copy the app reads.
/// macOS: ~/Library/Application Support/Claude/. Linux: $XDG_CONFIG_HOME (~/.config)/Claude/. Cursor everywhere:
/// ~/.cursor/mcp.json, or a project's .cursor/mcp.json.
/// </summary>
/// <param name="ClaudePackage">The MSIX package folder of Claude Desktop (Windows), e.g. Claude_pzs8sxrjxfjjc; null when not installed so.</param>
public sealed record ClientLocations(OperatingSystemKind OperatingSystem, string Home, string? AppData, string? LocalAppData,
    string? XdgConfigHome, string? ClaudePackage)
{
    public const string ClaudeFileName = "claude_desktop_config.json";
    public const string CursorFileName = "mcp.json";

    public static ClientLocations OfThisMachine()
    {
        var os = System.OperatingSystem.IsWindows() ? OperatingSystemKind.Windows
            : System.OperatingSystem.IsMacOS() ? OperatingSystemKind.MacOS : OperatingSystemKind.Linux;
        var local = Folder(Environment.SpecialFolder.LocalApplicationData);
        return new ClientLocations(os, Folder(Environment.SpecialFolder.UserProfile) ?? "~",
            Folder(Environment.SpecialFolder.ApplicationData), local,
            NonEmpty(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME")), os == OperatingSystemKind.Windows ? FindClaudePackage(local) : null);
    }

    /// <summary>The config file of <paramref name="client"/>; for Cursor in <paramref name="cursorProject"/> when one is given.</summary>
    public string ConfigPath(McpClient client, string? cursorProject = null) => client switch
    {
        McpClient.Cursor => Join(cursorProject ?? Home, ".cursor", CursorFileName),
        _ => OperatingSystem switch
        {
            OperatingSystemKind.Windows when ClaudePackage is not null && LocalAppData is not null =>
                Join(LocalAppData, "Packages", ClaudePackage, "LocalCache", "Roaming", "Claude", ClaudeFileName),
            OperatingSystemKind.Windows => Join(AppData ?? Join(Home, "AppData", "Roaming"), "Claude", ClaudeFileName),
            OperatingSystemKind.MacOS => Join(Home, "Library", "Application Support", "Claude", ClaudeFileName),
            _ => Join(XdgConfigHome ?? Join(Home, ".config"), "Claude", ClaudeFileName),
        },
    };

    /// <summary>Joins with the separator of the OS described, not of the one running (so all three can be tested anywhere).</summary>
    private string Join(params string[] parts)
    {
        var separator = OperatingSystem == OperatingSystemKind.Windows ? '\\' : '/';
        return string.Join(separator, parts.Select((p, i) => i == 0 ? p.TrimEnd('\\', '/') : p.Trim('\\', '/')));
    }

    /// <summary>The Claude_* package under %LOCALAPPDATA%\Packages; with several, the one that already has a config.</summary>
    private static string? FindClaudePackage(string? localAppData)
    {
        var packages = localAppData is null ? null : Path.Combine(localAppData, "Packages");
        if (packages is null || !Directory.Exists(packages))
            return null;
        var candidates = Directory.GetDirectories(packages, "Claude_*").Where(d => Directory.Exists(Path.Combine(d, "LocalCache"))).Order().ToList();
        var withConfig = candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "LocalCache", "Roaming", "Claude", ClaudeFileName)));
        return Path.GetFileName(withConfig ?? candidates.FirstOrDefault());
    }

    private static string? Folder(Environment.SpecialFolder folder) =>
        NonEmpty(Environment.GetFolderPath(folder, Environment.SpecialFolderOption.DoNotVerify));

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

public enum OperatingSystemKind
{
    Windows,
    MacOS,
    Linux,
}
