using System.Net;
using System.Net.NetworkInformation;
using PuoOps.Engine.Nginx;

namespace PuoOps.Engine.Security;

/// <summary>
/// The addresses a block must never reach without -Force, because blocking them locks the operator or every client
/// out: loopback, this host's own addresses (IPv4 and IPv6), the address the caller is connected from
/// (SSH_CLIENT/SSH_CONNECTION), the trusted proxies named by the caller and those nginx trusts (set_real_ip_from).
/// </summary>
public sealed class ProtectedAddresses
{
    private readonly List<(IPNetwork Network, string Why)> _networks;

    private ProtectedAddresses(List<(IPNetwork, string)> networks) => _networks = networks;

    public static async Task<ProtectedAddresses> ReadAsync(OperationContext ctx, IEnumerable<string> trustedProxies)
    {
        var networks = new List<(IPNetwork, string)>
        {
            (IpNetworks.Parse("127.0.0.0/8"), "loopback"),
            (IpNetworks.Parse("::1"), "loopback"),
        };
        foreach (var address in NetworkInterface.GetAllNetworkInterfaces().SelectMany(i => i.GetIPProperties().UnicastAddresses))
            networks.Add((IpNetworks.Host(address.Address), "an address of this host"));
        foreach (var variable in new[] { "SSH_CLIENT", "SSH_CONNECTION" })
            if (System.Environment.GetEnvironmentVariable(variable)?.Split(' ')[0] is { Length: > 0 } client && IPAddress.TryParse(client, out var caller))
                networks.Add((IpNetworks.Host(caller), $"your own address ({variable})"));
        foreach (var proxy in trustedProxies)
            networks.Add((IpNetworks.Parse(proxy), TrustedProxy));
        var configuration = await NginxControl.ReadAsync(ctx, await NginxInstance.ResolveAsync(ctx).ConfigureAwait(false)).ConfigureAwait(false);
        foreach (var directive in configuration.Directives("set_real_ip_from"))
            if (directive.Arguments is [var proxy, ..] && IpNetworks.TryParse(proxy) is { } network) // not unix: or a host name
                networks.Add((network, "a proxy nginx trusts (set_real_ip_from)"));
        return new ProtectedAddresses(networks);
    }

    /// <summary>Protects more trusted proxies: those named by the records piped in (each network once).</summary>
    public void AddTrustedProxies(IEnumerable<string> proxies)
    {
        foreach (var network in proxies.Select(p => IpNetworks.Parse(p)))
        {
            if (!_networks.Contains((network, TrustedProxy)))
                _networks.Add((network, TrustedProxy));
        }
    }

    private const string TrustedProxy = "a trusted proxy (-TrustedProxy)";

    /// <summary>Why blocking <paramref name="network"/> would lock someone out, or null when it would not.</summary>
    public string? Conflict(IPNetwork network) =>
        _networks.Where(p => p.Network.Overlaps(network)).Select(p => $"{IpNetworks.Format(p.Network)} is {p.Why}").FirstOrDefault();
}
