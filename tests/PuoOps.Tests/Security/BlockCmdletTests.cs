using System.Management.Automation;
using System.Net.NetworkInformation;
using PuoOps.Engine.Security;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Security;

/// <summary>
/// Block-, Get- and Unblock-PuoIpAddress in the built module, on an nginx of the test's own whose front server
/// trusts 192.0.2.0/28 as a proxy (set_real_ip_from).
/// </summary>
public sealed class BlockCmdletTests : IDisposable
{
    private readonly PrivateNginx _nginx = new(extraFrontDirectives: "set_real_ip_from 192.0.2.0/28;");
    private readonly ModuleHost _host = new(connectSandbox: false);

    public BlockCmdletTests() =>
        _host.Invoke("$global:e = Connect-PuoEnvironment -Name block-test -NginxConfig $conf -BlockListFile $list -PassThru",
            new Dictionary<string, object?> { ["conf"] = _nginx.Config, ["list"] = _nginx.BlockList }).ThrowIfFailed();

    public void Dispose()
    {
        _host.Dispose();
        _nginx.Dispose();
    }

    [Fact]
    public void A_pipeline_of_300_addresses_is_one_write_and_one_reload_and_unblocking_them_is_another()
    {
        var reloads = _nginx.Reloads;

        var blocked = _host.Invoke("""
            1..300 | ForEach-Object { "198.18.$([math]::Floor($_ / 256)).$($_ % 256)" } |
                Block-PuoIpAddress -Reason 'load test' -Environment $e -Confirm:$false
            """).ThrowIfFailed();

        Assert.Equal(300, blocked.Output.Count);
        Assert.All(blocked.Output, o => Assert.Equal("Blocked", o.Properties["Action"].Value.ToString()));
        Assert.Equal(reloads + 1, _nginx.Reloads);
        Assert.Equal(300, File.ReadAllLines(_nginx.BlockList).Count(l => l.StartsWith("deny 198.18.", StringComparison.Ordinal)));
        Assert.Equal(300, _host.Invoke("(Get-PuoBlockedIpAddress -Environment $e).Count").Output.Single().BaseObject);

        var unblocked = _host.Invoke("Get-PuoBlockedIpAddress -Environment $e | Unblock-PuoIpAddress -Environment $e -Confirm:$false").ThrowIfFailed();

        Assert.Equal(300, unblocked.Output.Count);
        Assert.Equal(reloads + 2, _nginx.Reloads);
        Assert.Empty(_host.Invoke("Get-PuoBlockedIpAddress -Environment $e").Output);
    }

    [Fact]
    public void Blocked_sources_get_403_and_others_200()
    {
        _host.Invoke("Block-PuoIpAddress 127.0.0.7 -Reason test -Force -Environment $e -Confirm:$false").ThrowIfFailed();
        Assert.Equal(403, _nginx.StatusFrom("127.0.0.7"));
        Assert.Equal(200, _nginx.StatusFrom("127.0.0.8"));
        Assert.Matches(@"^deny 127\.0\.0\.7;  # \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by \S+: test$", File.ReadAllLines(_nginx.BlockList).Single(l => l.StartsWith("deny")));
    }

    [Fact]
    public void WhatIf_changes_nothing()
    {
        var before = File.ReadAllBytes(_nginx.BlockList);
        var reloads = _nginx.Reloads;
        var result = _host.Invoke("'192.0.2.77', '2001:db8::1' | Block-PuoIpAddress -Firewall -Environment $e -WhatIf").ThrowIfFailed();
        Assert.Empty(result.Output);
        Assert.Equal(before, File.ReadAllBytes(_nginx.BlockList));
        Assert.Equal(reloads, _nginx.Reloads);
    }

    [Fact]
    public void Loopback_own_addresses_the_caller_and_trusted_proxies_are_refused_without_Force()
    {
        var own = NetworkInterface.GetAllNetworkInterfaces().SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address).Where(a => a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6 || a.ScopeId == 0)
            .Select(a => a.ToString()).ToList();
        var refused = new[] { "127.0.0.5", "::1", "::ffff:127.0.0.1", "0.0.0.0/0", "192.0.2.5", "198.51.100.9", "203.0.113.0/24" }.Concat(own).ToList();
        var before = File.ReadAllBytes(_nginx.BlockList);

        var result = _host.Invoke("""
            $env:SSH_CLIENT = '198.51.100.9 52114 22'
            try { $targets | Block-PuoIpAddress -TrustedProxy 203.0.113.10 -Environment $e -Confirm:$false }
            finally { $env:SSH_CLIENT = $null }
            """, new Dictionary<string, object?> { ["targets"] = refused.Append("192.0.2.200").ToArray() });

        // Each network is handled once (127.0.0.1 and ::ffff:127.0.0.1 are one address).
        Assert.Equal(refused.Select(a => IpNetworks.Parse(a)).Distinct().Count(), result.Errors.Count);
        Assert.All(result.Errors, error =>
        {
            Assert.Equal("PuoOps.Security.ProtectedAddress", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
            Assert.Contains("-Force", error.Exception.Message);
        });
        Assert.Contains(result.Errors, e => e.Exception.Message.Contains("(SSH_CLIENT)"));
        Assert.Contains(result.Errors, e => e.Exception.Message.Contains("set_real_ip_from"));
        Assert.Equal("192.0.2.200", Assert.Single(result.Output).Properties["IpAddress"].Value);
        Assert.NotEqual(before, File.ReadAllBytes(_nginx.BlockList));
    }

    [Fact]
    public void A_malformed_address_is_an_InvalidArgument_error_of_its_own()
    {
        var result = _host.Invoke("'10.1', '192.0.2.201' | Block-PuoIpAddress -Environment $e -Confirm:$false");
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal("10.1", error.TargetObject);
        Assert.Single(result.Output);
    }

    [Fact]
    public void Unblocking_an_address_that_is_not_blocked_is_ObjectNotFound()
    {
        var result = _host.Invoke("Unblock-PuoIpAddress 192.0.2.99 -Environment $e -Confirm:$false");
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(result.Errors).CategoryInfo.Category);
        Assert.Equal(ErrorCategory.ObjectNotFound, Assert.Single(_host.Invoke("Get-PuoBlockedIpAddress 192.0.2.99 -Environment $e").Errors).CategoryInfo.Category);
    }
}
