using System.Globalization;
using PuoOps.Engine.Nginx;

namespace PuoOps.Engine.Deployment;

/// <summary>
/// Where clients reach the upstream through nginx: the first <c>listen</c> of a server block that proxies to it
/// (<c>proxy_pass http://&lt;upstream&gt;</c>), as a loopback URL when it listens on every address.
/// </summary>
internal static class NginxFront
{
    public static Uri Url(NginxConfigDump configuration, string upstream, string configPath)
    {
        foreach (var text in configuration.Files.Values)
        {
            var directives = NginxConfigSyntax.Directives(text).ToList();
            for (var i = 0; i < directives.Count; i++)
            {
                if (directives[i] is not { Name: "server", Arguments.Count: 0 } server)
                    continue;
                var block = directives.Skip(i + 1).TakeWhile(d => d.Depth > server.Depth).ToList();
                var proxies = block.Any(d => d.Name == "proxy_pass" && d.Arguments.Count > 0 && ProxiesTo(d.Arguments[0], upstream));
                if (proxies && block.FirstOrDefault(d => d.Name == "listen" && d.Depth == server.Depth + 1 && d.Arguments.Count > 0) is { } listen
                            && Listen(listen.Arguments) is { } url)
                    return url;
            }
        }
        throw new PuoException(ErrorKind.NotFound, "PuoOps.Deployment.NoFrontServer",
            $"No server block of {configPath} listens and proxies to 'http://{upstream}', so a switch could not be confirmed through nginx. " +
            $"Add 'proxy_pass http://{upstream};' to the server clients use, or name the upstream with Connect-PuoEnvironment -Upstream.", configPath);
    }

    private static bool ProxiesTo(string target, string upstream)
    {
        var rest = target.StartsWith("http://", StringComparison.Ordinal) ? target[7..]
            : target.StartsWith("https://", StringComparison.Ordinal) ? target[8..] : null;
        return rest is not null && (rest == upstream || rest.StartsWith(upstream + "/", StringComparison.Ordinal));
    }

    /// <summary>The URL of a listen directive's address (host:port, port, *:port, [v6]:port); null for a unix socket.</summary>
    private static Uri? Listen(IReadOnlyList<string> arguments)
    {
        var address = arguments[0];
        if (address.StartsWith("unix:", StringComparison.Ordinal))
            return null;
        var scheme = arguments.Contains("ssl") ? "https" : "http";
        var colon = address.LastIndexOf(':');
        string host;
        string port;
        if (colon < 0 || address.EndsWith(']'))
            (host, port) = int.TryParse(address, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? ("*", address) : (address, scheme == "https" ? "443" : "80");
        else
            (host, port) = (address[..colon], address[(colon + 1)..]);
        host = host switch
        {
            "*" or "0.0.0.0" => "127.0.0.1",
            "[::]" => "[::1]",
            _ => host,
        };
        return new Uri($"{scheme}://{host}:{port}/");
    }
}
