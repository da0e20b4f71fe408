using System.Text;
using System.Text.RegularExpressions;
using PuoOps.Engine.Nginx;

namespace PuoOps.Engine.Deployment;

/// <summary>
/// The include that decides where nginx sends traffic: one <c>upstream &lt;name&gt; { server host:port; ... }</c> block
/// naming the active colour's backends, with a comment saying which colour that is. It is read back as input: a file
/// holding anything else is refused rather than rewritten, so an operator's own edits are never dropped.
/// </summary>
public sealed partial class TrafficFile
{
    private TrafficFile(string? color, IReadOnlyList<string> servers)
    {
        Color = color;
        Servers = servers;
    }

    /// <summary>The colour the file says is active (its <c># color:</c> comment); null when it does not say.</summary>
    public string? Color { get; }

    /// <summary>The backends of the upstream block, as written.</summary>
    public IReadOnlyList<string> Servers { get; }

    /// <summary>The upstream <paramref name="upstream"/> in <paramref name="text"/>; InvalidData naming what else the file holds.</summary>
    public static TrafficFile Parse(string text, string upstream, string path)
    {
        var directives = NginxConfigSyntax.Directives(text).ToList();
        var block = directives.FindIndex(d => d is { Name: "upstream", Depth: 0 } && d.Arguments.Count == 1 && d.Arguments[0] == upstream);
        var foreign = directives.Where((d, i) => i != block && !(d.Depth == 1 && d.Name == "server")).Select(d => d.Name).ToList();
        if (block < 0 || foreign.Count > 0 || directives.Any(d => d.Name == "server" && d.Arguments.Count == 0))
            throw new PuoException(ErrorKind.InvalidData, "PuoOps.Deployment.TrafficFileInvalid",
                $"{path} must hold exactly one 'upstream {upstream} {{ server host:port; ... }}' block" +
                (foreign.Count > 0 ? $", but it also has {string.Join(", ", foreign.Distinct())}" : "") +
                ". Fix the file, or name the upstream with Connect-PuoEnvironment -Upstream.", path);
        var servers = directives.Where(d => d.Depth == 1 && d.Name == "server" && d.Arguments.Count > 0).Select(d => d.Arguments[0]).ToList();
        var color = ColorComment().Match(text);
        return new TrafficFile(color.Success ? color.Groups[1].Value : null, servers);
    }

    /// <summary>The file sending traffic to <paramref name="color"/>'s <paramref name="servers"/>.</summary>
    public static string Render(string upstream, string color, IEnumerable<string> servers)
    {
        var text = new StringBuilder()
            .Append("# PuoOps traffic file: nginx proxies to this upstream. Written by Switch-PuoTraffic; edit with care.\n")
            .Append("# color: ").Append(color).Append('\n')
            .Append("upstream ").Append(upstream).Append(" {\n");
        foreach (var server in servers)
            text.Append("    server ").Append(server).Append(";\n");
        return text.Append("}\n").ToString();
    }

    [GeneratedRegex(@"^#\s*color:\s*([A-Za-z0-9_-]+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ColorComment();
}
