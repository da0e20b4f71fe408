using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace PuoOps.Engine.Security;

/// <summary>
/// Addresses and networks as operators write them (<c>203.0.113.7</c>, <c>198.51.100.0/24</c>, <c>2001:db8::1</c>,
/// <c>2001:db8::/64</c>), read strictly: IPAddress.Parse alone also takes <c>1</c>, <c>10.1</c> or <c>0x7f.1</c>,
/// which nobody means in a block list. Host bits below the prefix are cleared (nginx warns about them), and an
/// IPv4-mapped IPv6 address is its IPv4 address, as nginx compares it.
/// </summary>
public static partial class IpNetworks
{
    /// <summary>
    /// Parses <paramref name="text"/>; a single IPv6 address becomes a network of <paramref name="ipv6PrefixLength"/>
    /// bits (128: the address itself; 64: its whole subnet). InvalidArgument naming the text otherwise.
    /// </summary>
    public static IPNetwork Parse(string text, int ipv6PrefixLength = 128)
    {
        var trimmed = text.Trim();
        var slash = trimmed.IndexOf('/');
        var addressText = slash < 0 ? trimmed : trimmed[..slash];
        var shapeOk = addressText.Contains(':') ? Ipv6Shape().IsMatch(addressText) : Ipv4Shape().IsMatch(addressText);
        if (!shapeOk || !IPAddress.TryParse(addressText, out var address) || address.AddressFamily != AddressFamily.InterNetwork && address.ScopeId != 0)
            throw Invalid(text, "is not an IPv4 or IPv6 address (write it like 203.0.113.7, 198.51.100.0/24, 2001:db8::1 or 2001:db8::/64)");
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix;
        if (slash < 0)
            prefix = bits == 32 ? 32 : ipv6PrefixLength;
        else if (!int.TryParse(trimmed[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix > bits)
            throw Invalid(text, $"has a prefix length that is not a number from 0 to {bits}");
        if (address.IsIPv4MappedToIPv6 && prefix >= 96)
            (address, prefix) = (address.MapToIPv4(), prefix - 96);
        return new IPNetwork(Mask(address, prefix), prefix);
    }

    /// <summary>The network, or null when <paramref name="text"/> is not one.</summary>
    public static IPNetwork? TryParse(string text)
    {
        try
        {
            return Parse(text);
        }
        catch (PuoException)
        {
            return null;
        }
    }

    /// <summary>The network as nginx and operators write it: a single address without its /32 or /128.</summary>
    public static string Format(IPNetwork network) =>
        network.PrefixLength == HostBits(network.BaseAddress) ? network.BaseAddress.ToString() : network.ToString();

    public static IPNetwork Host(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
            address = new IPAddress(address.GetAddressBytes()); // fe80::1%eth0: the scope does not matter to a source check
        return new IPNetwork(address, HostBits(address));
    }

    /// <summary>True when every address of <paramref name="inner"/> is in <paramref name="outer"/>.</summary>
    public static bool Covers(this IPNetwork outer, IPNetwork inner) =>
        outer.BaseAddress.AddressFamily == inner.BaseAddress.AddressFamily && outer.PrefixLength <= inner.PrefixLength && outer.Contains(inner.BaseAddress);

    /// <summary>True when the two share an address (CIDR networks either nest or are disjoint).</summary>
    public static bool Overlaps(this IPNetwork a, IPNetwork b) => a.Covers(b) || b.Covers(a);

    private static int HostBits(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        return new IPAddress(bytes);
    }

    private static PuoException Invalid(string text, string problem) =>
        new(ErrorKind.InvalidArgument, "PuoOps.Security.InvalidAddress", $"'{text}' {problem}.", text);

    [GeneratedRegex(@"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")]
    private static partial Regex Ipv4Shape();

    [GeneratedRegex(@"^[0-9A-Fa-f:.]+$")]
    private static partial Regex Ipv6Shape();
}
