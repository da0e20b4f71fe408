using System.Net;

namespace PuoOps.Engine;

/// <summary>
/// Whether an endpoint's traffic stays on this machine. Traffic that leaves it without TLS, or with TLS but no
/// certificate check, can be read or redirected on the way; the environment warns about it once.
/// </summary>
internal static class TransportSecurity
{
    /// <summary>A loopback address, localhost, or a local socket path (Npgsql takes a directory as host).</summary>
    public static bool IsLocal(string host)
    {
        host = host.Trim('[', ']');
        if (host.Length == 0 || host.StartsWith('/') || host.StartsWith('@'))
            return true;
        if (IPAddress.TryParse(host, out var address))
            return IPAddress.IsLoopback(address);
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }
}
