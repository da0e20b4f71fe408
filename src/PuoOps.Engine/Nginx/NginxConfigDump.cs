using System.Text.RegularExpressions;

namespace PuoOps.Engine.Nginx;

/// <summary>
/// The configuration as nginx read it (<c>nginx -T</c>): the text of every file it loaded, the main one and each
/// include, under the path nginx opened.
/// </summary>
public sealed partial class NginxConfigDump
{
    private NginxConfigDump(IReadOnlyDictionary<string, string> files) => Files = files;

    /// <summary>Each file nginx read, by full path, with its text.</summary>
    public IReadOnlyDictionary<string, string> Files { get; }

    /// <summary>True when nginx read <paramref name="path"/> while loading the configuration.</summary>
    public bool Includes(string path) => Files.ContainsKey(Path.GetFullPath(path));

    /// <summary>The directives named <paramref name="name"/> in every file, in any block.</summary>
    public IEnumerable<NginxDirective> Directives(string name) =>
        Files.Values.SelectMany(NginxConfigSyntax.Directives).Where(d => d.Name == name);

    internal static NginxConfigDump Parse(string dump)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        var text = new System.Text.StringBuilder();
        foreach (var line in dump.Split('\n'))
        {
            var header = FileHeader().Match(line);
            if (header.Success)
            {
                if (current is not null)
                    files[current] = text.ToString();
                current = Path.GetFullPath(header.Groups[1].Value);
                text.Clear();
            }
            else if (current is not null)
                text.Append(line).Append('\n');
        }
        if (current is not null)
            files[current] = text.ToString();
        return new NginxConfigDump(files);
    }

    [GeneratedRegex(@"^# configuration file (.+):\r?$")]
    private static partial Regex FileHeader();
}
