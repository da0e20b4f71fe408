using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace PuoOps.Engine.Security;

/// <summary>One <c>deny</c> line of the block list, with what its comment says: when, by whom, whether the firewall drops it too, why.</summary>
internal sealed record BlockListEntry(IPNetwork Network, string? Reason, DateTimeOffset? BlockedAt, string? BlockedBy, bool Firewall);

/// <summary>A network asked for by an operator: what they typed, and what it means.</summary>
public sealed record IpRequest(string Input, IPNetwork Network);

/// <summary>
/// The nginx deny list the module keeps, one entry per line: <c>deny 203.0.113.7;  # 2026-11-29T10:00:00Z by root, firewall: reason</c>.
/// It is read back as input: lines that are neither comments nor deny entries are refused rather than dropped, and
/// reasons can never end their comment line. Entries stay minimal: a network never sits inside another one.
/// </summary>
internal sealed partial class BlockList
{
    private const string Header = """
        # PuoOps block list: nginx answers 403 to these client addresses. Include it in the http or server block.
        # Changed by Block-PuoIpAddress and Unblock-PuoIpAddress; each entry says when, by whom and why.

        """;

    private const int MaxReasonLength = 200;

    private readonly string _environment;

    private BlockList(string path, string environment, List<BlockListEntry> entries)
    {
        Path = path;
        _environment = environment;
        Entries = entries;
    }

    public string Path { get; }

    public List<BlockListEntry> Entries { get; }

    /// <summary>The list in <paramref name="text"/> (null: no file yet, an empty list).</summary>
    public static BlockList Parse(string? text, string path, string environment)
    {
        var entries = new List<BlockListEntry>();
        var lines = (text ?? "").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var match = DenyLine().Match(line);
            IPNetwork network;
            try
            {
                network = match.Success ? IpNetworks.Parse(match.Groups["net"].Value) : throw new FormatException();
            }
            catch (Exception ex) when (ex is FormatException or PuoException)
            {
                throw new PuoException(ErrorKind.InvalidData, "PuoOps.Security.BlockListInvalid",
                    $"Line {i + 1} of {path} is not a 'deny <address>;' entry: '{line}'. Fix or remove it; PuoOps rewrites only a list it understands.", path);
            }
            var note = match.Groups["note"].Value;
            var parts = Note().Match(note);
            entries.Add(parts.Success
                ? new BlockListEntry(network, parts.Groups["reason"].Success ? parts.Groups["reason"].Value : null,
                    DateTimeOffset.Parse(parts.Groups["at"].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                    parts.Groups["by"].Success ? parts.Groups["by"].Value : null, parts.Groups["firewall"].Success)
                : new BlockListEntry(network, note.Length == 0 ? null : note, null, null, false));
        }
        return new BlockList(path, environment, entries);
    }

    public string Render()
    {
        var text = new StringBuilder(Header);
        foreach (var entry in Sorted(Entries))
        {
            text.Append("deny ").Append(IpNetworks.Format(entry.Network)).Append(';');
            if (entry.BlockedAt is { } at)
            {
                text.Append("  # ").Append(at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
                if (entry.BlockedBy is { Length: > 0 } by)
                    text.Append(" by ").Append(by);
                if (entry.Firewall)
                    text.Append(", firewall");
                if (entry.Reason is { Length: > 0 } reason)
                    text.Append(": ").Append(reason);
            }
            else if (entry.Reason is { Length: > 0 } reason)
                text.Append("  # ").Append(reason);
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// Adds <paramref name="requests"/>: a network already inside an entry is AlreadyBlocked (and gets the firewall
    /// flag when asked); a new one replaces the entries inside it. Changes come in the order of the requests.
    /// </summary>
    public List<IpBlockChange> Add(IReadOnlyList<IpRequest> requests, string? reason, DateTimeOffset at, string by, bool firewall)
    {
        var changes = new IpBlockChange[requests.Count];
        // Widest first, so a batch holding a network and addresses inside it keeps just the network.
        foreach (var (request, index) in requests.Select((r, i) => (r, i)).OrderBy(p => p.r.Network.PrefixLength))
        {
            var cover = Entries.FindIndex(e => e.Network.Covers(request.Network));
            if (cover >= 0)
            {
                if (firewall && !Entries[cover].Firewall)
                    Entries[cover] = Entries[cover] with { Firewall = true };
                var existing = Entries[cover];
                changes[index] = Change(existing with { Network = request.Network }, IpBlockAction.AlreadyBlocked,
                    coveredBy: existing.Network.Equals(request.Network) ? null : IpNetworks.Format(existing.Network));
                continue;
            }
            var inside = Entries.Where(e => request.Network.Covers(e.Network)).ToList();
            Entries.RemoveAll(inside.Contains);
            var added = new BlockListEntry(request.Network, Clean(reason), at, by, firewall || inside.Any(e => e.Firewall));
            Entries.Add(added);
            changes[index] = Change(added, IpBlockAction.Blocked, replaced: inside.Select(e => IpNetworks.Format(e.Network)).ToList());
        }
        return changes.ToList();
    }

    /// <summary>
    /// Removes every entry inside each requested network. A request that removes nothing is an error of its own
    /// (NotFound, or InvalidOperation when a wider entry covers it), not of the batch.
    /// </summary>
    public (List<IpBlockChange> Changes, List<PuoException> Errors) Remove(IReadOnlyList<IpRequest> requests)
    {
        var changes = new List<IpBlockChange>();
        var errors = new List<PuoException>();
        foreach (var request in requests)
        {
            var inside = Entries.Where(e => request.Network.Covers(e.Network)).ToList();
            if (inside.Count == 0)
            {
                var cover = Entries.FirstOrDefault(e => e.Network.Covers(request.Network));
                errors.Add(cover is null
                    ? new PuoException(ErrorKind.NotFound, "PuoOps.Security.NotBlocked", $"{request.Input} is not in the block list {Path}.", request.Input)
                    : new PuoException(ErrorKind.InvalidOperation, "PuoOps.Security.BlockedByNetwork",
                        $"{request.Input} is inside the blocked network {IpNetworks.Format(cover.Network)}{(cover.Reason is null ? "" : $" ({cover.Reason})")}, which stays. " +
                        $"Unblock {IpNetworks.Format(cover.Network)} to let it in, then block the rest of that network again if needed.", request.Input));
                continue;
            }
            Entries.RemoveAll(inside.Contains);
            changes.AddRange(inside.Select(e => Change(e, IpBlockAction.Unblocked)));
        }
        return (changes, errors);
    }

    public BlockedIpAddress Describe(BlockListEntry entry) => new()
    {
        Environment = _environment, IpAddress = IpNetworks.Format(entry.Network), PrefixLength = entry.Network.PrefixLength,
        AddressFamily = entry.Network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? "IPv4" : "IPv6",
        Reason = entry.Reason, BlockedAt = entry.BlockedAt, BlockedBy = entry.BlockedBy, Firewall = entry.Firewall, BlockListFile = Path,
    };

    private IpBlockChange Change(BlockListEntry entry, IpBlockAction action, string? coveredBy = null, IReadOnlyList<string>? replaced = null) => new()
    {
        Environment = _environment, Action = action, IpAddress = IpNetworks.Format(entry.Network), Reason = entry.Reason, BlockedAt = entry.BlockedAt,
        Firewall = entry.Firewall, CoveredBy = coveredBy, Replaced = replaced ?? [], BlockListFile = Path,
    };

    /// <summary>A reason as one line of a comment: control characters (a newline would end the comment) become spaces.</summary>
    private static string? Clean(string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
            return null;
        var line = new string(reason.Select(c => char.IsControl(c) ? ' ' : c).ToArray()).Trim();
        return line.Length <= MaxReasonLength ? line : line[..MaxReasonLength];
    }

    /// <summary>IPv4 before IPv6, then by address and prefix: a stable order, so two versions of the list diff cleanly.</summary>
    private static IEnumerable<BlockListEntry> Sorted(IEnumerable<BlockListEntry> entries) =>
        entries.OrderBy(e => e.Network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
            .ThenBy(e => e.Network.BaseAddress.GetAddressBytes(), ByteOrder.Instance)
            .ThenBy(e => e.Network.PrefixLength);

    [GeneratedRegex(@"^deny\s+(?<net>[^\s;#]+)\s*;\s*(#\s*(?<note>.*?))?\s*$")]
    private static partial Regex DenyLine();

    [GeneratedRegex(@"^(?<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)( by (?<by>[^\s,:]+))?(?<firewall>, firewall)?(: (?<reason>.*))?$")]
    private static partial Regex Note();

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
