namespace PuoOps;

/// <summary>Get-PuoBlockedIpAddress: one entry of the nginx deny list.</summary>
public sealed class BlockedIpAddress
{
    public string Environment { get; init; } = "";

    /// <summary>The address (203.0.113.7) or network (198.51.100.0/24, 2001:db8::/64) nginx denies.</summary>
    public string IpAddress { get; init; } = "";

    public int PrefixLength { get; init; }

    /// <summary>IPv4 or IPv6.</summary>
    public string AddressFamily { get; init; } = "";

    public string? Reason { get; init; }
    public DateTimeOffset? BlockedAt { get; init; }
    public string? BlockedBy { get; init; }

    /// <summary>True when it is also dropped by the module's firewall set (Block-PuoIpAddress -Firewall).</summary>
    public bool Firewall { get; init; }

    public string BlockListFile { get; init; } = "";
}

/// <summary>What Block-PuoIpAddress or Unblock-PuoIpAddress did with one address.</summary>
public enum IpBlockAction
{
    /// <summary>Added to the deny list.</summary>
    Blocked,

    /// <summary>Already denied, by this entry or by a wider network (CoveredBy).</summary>
    AlreadyBlocked,

    /// <summary>Removed from the deny list.</summary>
    Unblocked,
}

/// <summary>Block-PuoIpAddress and Unblock-PuoIpAddress: one address or network and what was done with it.</summary>
public sealed class IpBlockChange
{
    public string Environment { get; init; } = "";
    public IpBlockAction Action { get; init; }

    /// <summary>The entry of the deny list: the address or network as nginx reads it.</summary>
    public string IpAddress { get; init; } = "";

    public string? Reason { get; init; }
    public DateTimeOffset? BlockedAt { get; init; }

    /// <summary>True when the address is (or, for Unblocked, was) also in the module's firewall set.</summary>
    public bool Firewall { get; init; }

    /// <summary>For AlreadyBlocked: the wider entry that already denies it, when it is not the same.</summary>
    public string? CoveredBy { get; init; }

    /// <summary>For Blocked: the narrower entries this network replaced, so the list stays minimal.</summary>
    public IReadOnlyList<string> Replaced { get; init; } = [];

    public string BlockListFile { get; init; } = "";
}
