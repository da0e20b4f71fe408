using System.Management.Automation;
using System.Net;
using PuoOps.Engine.Security;

namespace PuoOps.Commands.Security;

/// <summary>
/// Adds addresses to the environment's nginx deny list, the whole pipeline as one batch: each address is checked
/// and confirmed as it arrives, then all of them are written, validated and reloaded once at the end.
/// ConfirmImpact is High: a wrong block cuts off real traffic.
/// </summary>
[Cmdlet(VerbsSecurity.Block, "PuoIpAddress", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(IpBlockChange))]
public sealed class BlockPuoIpAddressCommand : PuoCmdlet
{
    private readonly List<IpRequest> _requests = [];
    private readonly HashSet<IPNetwork> _seen = [];
    private ProtectedAddresses? _protected;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] IpAddress { get; set; } = [];

    [Parameter]
    public string? Reason { get; set; }

    [Parameter]
    public SwitchParameter Firewall { get; set; }

    [Parameter]
    [ValidateRange(1, 128)]
    public int IPv6PrefixLength { get; set; } = 128;

    /// <summary>Typed, or bound by name from Find-PuoAuthFailure's records (the proxies that search trusted).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull] // not empty too: a record of a search without proxies carries none
    public string[] TrustedProxy { get; set; } = [];

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Begin()
    {
        if (!Force)
            _protected = Await(ProtectedAddresses.ReadAsync(Context, TrustedProxy));
    }

    protected override void Process()
    {
        if (FromPipeline(nameof(TrustedProxy)))
            _protected?.AddTrustedProxies(TrustedProxy);
        ForEachItem(IpAddress, Block);
    }

    private void Block(string text)
    {
        var network = IpNetworks.Parse(text, IPv6PrefixLength);
        if (!_seen.Add(network))
            return;
        if (_protected?.Conflict(network) is { } why)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Security.ProtectedAddress",
                $"Refusing to block {text}: {why}, and blocking it could lock you or every client out. Add -Force if you really mean it.", text);
        var where = Firewall ? "Block in nginx and the firewall" : "Block in nginx";
        if (ShouldProcess(IpNetworks.Format(network) + (string.IsNullOrWhiteSpace(Reason) ? "" : $" ({Reason})"), where))
            _requests.Add(new IpRequest(text, network));
    }

    protected override void End()
    {
        if (_requests.Count == 0)
            return;
        var update = Await(BlockListService.BlockAsync(Context, _requests, Reason, Firewall));
        foreach (var change in update.Changes)
            WriteObject(change);
    }
}
