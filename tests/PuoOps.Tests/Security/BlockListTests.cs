using System.Net;
using PuoOps.Engine.Security;

namespace PuoOps.Tests.Security;

/// <summary>Addresses as operators write them, and the deny list's format and merging (no services needed).</summary>
public sealed class BlockListTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 29, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("203.0.113.7", "203.0.113.7")]
    [InlineData(" 198.51.100.7/24 ", "198.51.100.0/24")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("2001:DB8:0:0:8:800:200C:417A/64", "2001:db8::/64")]
    [InlineData("::ffff:192.0.2.5", "192.0.2.5")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    public void Addresses_and_networks_are_read_as_nginx_reads_them(string text, string expected) =>
        Assert.Equal(expected, IpNetworks.Format(IpNetworks.Parse(text)));

    [Theory]
    [InlineData("1")]
    [InlineData("10.1")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("256.1.1.1")]
    [InlineData("1.2.3.4/33")]
    [InlineData("1.2.3.4/-1")]
    [InlineData("2001:db8::/129")]
    [InlineData("fe80::1%eth0")]
    [InlineData("example.com")]
    [InlineData("1.2.3.4; allow all")]
    public void Anything_else_is_InvalidArgument(string text)
    {
        var error = Assert.Throws<PuoException>(() => IpNetworks.Parse(text));
        Assert.Equal("PuoOps.Security.InvalidAddress", error.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public void A_single_IPv6_address_takes_the_prefix_length_asked_for()
    {
        Assert.Equal("2001:db8:1234::/64", IpNetworks.Format(IpNetworks.Parse("2001:db8:1234::42", 64)));
        Assert.Equal("2001:db8::/48", IpNetworks.Format(IpNetworks.Parse("2001:db8::/48", 64)));
        Assert.Equal("203.0.113.7", IpNetworks.Format(IpNetworks.Parse("203.0.113.7", 64)));
    }

    [Fact]
    public void An_address_inside_a_blocked_network_is_already_blocked_and_a_network_replaces_what_it_covers()
    {
        var list = BlockList.Parse("deny 198.51.100.0/24;\ndeny 203.0.113.7;\ndeny 203.0.113.9;\n", "/x", "test");

        var changes = list.Add([Request("198.51.100.5"), Request("203.0.113.0/24"), Request("203.0.113.9")], "sweep", At, "alice", firewall: false);

        Assert.Equal([IpBlockAction.AlreadyBlocked, IpBlockAction.Blocked, IpBlockAction.AlreadyBlocked], changes.Select(c => c.Action));
        Assert.Equal("198.51.100.5", changes[0].IpAddress);
        Assert.Equal("198.51.100.0/24", changes[0].CoveredBy);
        Assert.Equal(["203.0.113.7", "203.0.113.9"], changes[1].Replaced);
        Assert.Equal("203.0.113.0/24", changes[2].CoveredBy);
        Assert.Equal(["198.51.100.0/24", "203.0.113.0/24"], list.Entries.Select(e => IpNetworks.Format(e.Network)));
    }

    [Fact]
    public void Entries_keep_reason_time_user_and_firewall_through_the_file()
    {
        var list = BlockList.Parse(null, "/x", "test");
        list.Add([Request("2001:db8::1"), Request("192.0.2.5")], "brute force: /auth", At, "alice", firewall: true);

        var text = list.Render();
        var again = BlockList.Parse(text, "/x", "test");

        Assert.Contains("deny 192.0.2.5;  # 2026-11-29T10:00:00Z by alice, firewall: brute force: /auth\n", text);
        Assert.True(text.IndexOf("192.0.2.5", StringComparison.Ordinal) < text.IndexOf("2001:db8::1", StringComparison.Ordinal), "IPv4 first");
        Assert.Equal(list.Entries.OrderBy(e => e.Network.ToString()), again.Entries.OrderBy(e => e.Network.ToString()));
        Assert.Equal(text, again.Render());
    }

    [Fact]
    public void A_reason_can_never_end_its_comment_and_add_a_directive()
    {
        var list = BlockList.Parse(null, "/x", "test");
        list.Add([Request("192.0.2.5")], "spam\nallow all;\r\n# x", At, "alice", firewall: false);

        var lines = list.Render().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Single(lines, l => !l.StartsWith('#'));
        Assert.EndsWith(": spam allow all;  # x", lines.Single(l => l.StartsWith("deny", StringComparison.Ordinal)));
    }

    [Fact]
    public void Firewall_is_added_to_an_entry_that_was_blocked_in_nginx_only()
    {
        var list = BlockList.Parse("deny 192.0.2.5;  # 2026-11-28T10:00:00Z by bob: earlier\n", "/x", "test");
        var change = list.Add([Request("192.0.2.5")], "again", At, "alice", firewall: true).Single();
        Assert.Equal(IpBlockAction.AlreadyBlocked, change.Action);
        Assert.True(change.Firewall);
        Assert.Equal("earlier", change.Reason);
        Assert.Contains("by bob, firewall: earlier", list.Render());
    }

    [Fact]
    public void Unblocking_a_network_removes_what_it_covers_and_an_address_inside_a_wider_entry_is_refused()
    {
        var list = BlockList.Parse("deny 10.9.0.0/16;\ndeny 192.0.2.5;\ndeny 192.0.2.77;\n", "/x", "test");

        var (changes, errors) = list.Remove([Request("192.0.2.0/24"), Request("10.9.1.1"), Request("198.51.100.1")]);

        Assert.Equal(["192.0.2.5", "192.0.2.77"], changes.Select(c => c.IpAddress));
        Assert.All(changes, c => Assert.Equal(IpBlockAction.Unblocked, c.Action));
        Assert.Equal(["PuoOps.Security.BlockedByNetwork", "PuoOps.Security.NotBlocked"], errors.Select(e => e.ErrorId));
        Assert.Contains("10.9.0.0/16", errors[0].Message);
        Assert.Equal(["10.9.0.0/16"], list.Entries.Select(e => IpNetworks.Format(e.Network)));
    }

    [Theory]
    [InlineData("allow 192.0.2.5;")]
    [InlineData("deny all;")]
    [InlineData("include /etc/passwd;")]
    public void A_list_with_lines_it_does_not_understand_is_refused_as_InvalidData(string line)
    {
        var error = Assert.Throws<PuoException>(() => BlockList.Parse($"# ok\ndeny 192.0.2.5;\n{line}\n", "/etc/nginx/puo-blocklist.conf", "test"));
        Assert.Equal(ErrorKind.InvalidData, error.Kind);
        Assert.Contains("Line 3", error.Message);
    }

    [Fact]
    public void A_snapshot_stream_reads_exactly_its_length_and_pads_a_shrunken_file_with_zeros()
    {
        using var grown = new SnapshotStream(new MemoryStream("0123456789"u8.ToArray()), 4);
        Assert.Equal("0123"u8.ToArray(), ReadAll(grown));
        Assert.False(grown.Truncated);
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("0123"u8)).ToLowerInvariant(), grown.Sha256());

        using var shrunk = new SnapshotStream(new MemoryStream("01"u8.ToArray()), 4);
        Assert.Equal(new byte[] { (byte)'0', (byte)'1', 0, 0 }, ReadAll(shrunk));
        Assert.True(shrunk.Truncated);
    }

    [Fact]
    public void The_manifest_escapes_names_as_sha256sum_does()
    {
        var text = Sha256Sums.Render([new EvidenceFile { Name = "logs/a.log", Sha256 = "ab" }, new EvidenceFile { Name = "logs/odd\\name\n.log", Sha256 = "cd" }]);
        Assert.Equal("ab  logs/a.log\n\\cd  logs/odd\\\\name\\n.log\n", text);
    }

    private static IpRequest Request(string text) => new(text, IpNetworks.Parse(text));

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
