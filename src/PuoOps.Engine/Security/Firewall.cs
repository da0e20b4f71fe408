using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PuoOps.Engine.Security;

/// <summary>
/// The module's own packet filter for blocked addresses, dropping them before anything else sees them (prerouting, so
/// traffic forwarded to containers is dropped too). With nftables: the table <c>inet puoops</c>, its sets
/// <c>blocked4</c>/<c>blocked6</c> and one chain matching them. Where nft is missing: a chain <c>PUOOPS-BLOCK</c> in
/// iptables' and ip6tables' raw table, jumped to from PREROUTING. Only these objects are ever written; other tables,
/// chains and rules are never flushed or reordered. Each sync replaces the set's content in one transaction.
/// </summary>
internal static class Firewall
{
    public const string Table = "puoops";
    public const string Chain = "PUOOPS-BLOCK";

    /// <summary>Which tool will be used: nft when it is in PATH, else iptables; NotFound when neither is.</summary>
    public static string Tool() =>
        ChildProcess.FindInPath("nft") is not null ? "nft"
        : ChildProcess.FindInPath("iptables-restore") is not null ? "iptables"
        : throw new PuoException(ErrorKind.NotFound, "PuoOps.Security.FirewallNotFound",
            "-Firewall needs nftables (nft) or iptables in PATH; neither was found. Install nftables (apt-get install nftables), or block in nginx only.", "nft");

    /// <summary>Makes the module's firewall drop exactly <paramref name="networks"/> (an empty list drops nothing).</summary>
    public static async Task SyncAsync(OperationContext ctx, IReadOnlyCollection<IPNetwork> networks)
    {
        var v4 = networks.Where(n => n.BaseAddress.AddressFamily == AddressFamily.InterNetwork).Select(IpNetworks.Format).ToList();
        var v6 = networks.Where(n => n.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6).Select(IpNetworks.Format).ToList();
        if (Tool() == "nft")
            await RunAsync(ctx, "nft", ["-f", "-"], NftScript(v4, v6)).ConfigureAwait(false);
        else
        {
            await IptablesAsync(ctx, "iptables", v4).ConfigureAwait(false);
            if (v6.Count > 0 || ChildProcess.FindInPath("ip6tables-restore") is not null)
                await IptablesAsync(ctx, "ip6tables", v6).ConfigureAwait(false);
        }
        ctx.Log($"Firewall ({Tool()}): {v4.Count} IPv4 and {v6.Count} IPv6 entries dropped.");
    }

    /// <summary>
    /// One nft transaction: declares the table, sets and chain (a no-op when they exist), rewrites the chain's two
    /// rules and replaces the sets' elements. nft applies all of it or nothing.
    /// </summary>
    private static string NftScript(List<string> v4, List<string> v6)
    {
        var script = new StringBuilder($$"""
            table inet {{Table}} {
                set blocked4 { type ipv4_addr; flags interval; }
                set blocked6 { type ipv6_addr; flags interval; }
                chain prerouting { type filter hook prerouting priority raw; policy accept; }
            }
            flush chain inet {{Table}} prerouting
            add rule inet {{Table}} prerouting ip saddr @blocked4 drop
            add rule inet {{Table}} prerouting ip6 saddr @blocked6 drop
            flush set inet {{Table}} blocked4
            flush set inet {{Table}} blocked6

            """);
        foreach (var (set, elements) in new[] { ("blocked4", v4), ("blocked6", v6) })
            foreach (var chunk in elements.Chunk(500))
                script.Append($"add element inet {Table} {set} {{ ").AppendJoin(", ", chunk).Append(" }\n");
        return script.ToString();
    }

    /// <summary>
    /// One iptables-restore of the raw table without --flush of anything else: declaring the chain empties it, its
    /// rules are added, and the jump from PREROUTING is inserted only when it is not there yet.
    /// </summary>
    private static async Task IptablesAsync(OperationContext ctx, string tool, List<string> networks)
    {
        var jump = await ChildProcess.RunAsync(ctx, tool, ["-w", "-t", "raw", "-C", "PREROUTING", "-j", Chain]).ConfigureAwait(false);
        var script = new StringBuilder($"*raw\n:{Chain} - [0:0]\n");
        foreach (var network in networks)
            script.Append($"-A {Chain} -s {network} -j DROP\n");
        if (jump.ExitCode != 0)
            script.Append($"-I PREROUTING 1 -j {Chain}\n");
        script.Append("COMMIT\n");
        await RunAsync(ctx, tool + "-restore", ["-w", "--noflush"], script.ToString()).ConfigureAwait(false);
    }

    private static async Task RunAsync(OperationContext ctx, string tool, string[] arguments, string script)
    {
        var result = await ChildProcess.RunAsync(ctx, ChildProcess.FindInPath(tool) ?? tool, arguments, script).ConfigureAwait(false);
        if (result.ExitCode == 0)
            return;
        // The tools' exit codes do not single out a refused privilege; the process's own privilege does.
        var denied = !Environment.IsPrivilegedProcess;
        throw new PuoException(denied ? ErrorKind.PermissionDenied : ErrorKind.InvalidOperation, "PuoOps.Security.FirewallFailed",
            $"{tool} could not update the module's firewall ({(tool == "nft" ? $"table inet {Table}" : $"chain {Chain}")}): {result.Message}" +
            (denied ? " Changing the firewall needs root." : ""), tool);
    }
}
