using System.Management.Automation;
using System.Net;
using PuoOps.Engine.Security;

namespace PuoOps.Commands.Security;

/// <summary>
/// Removes addresses and networks from the environment's nginx deny list (and from the module's firewall set when
/// they were there), the whole pipeline as one batch: one write and one reload at the end.
/// </summary>
[Cmdlet(VerbsSecurity.Unblock, "PuoIpAddress", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(IpBlockChange))]
public sealed class UnblockPuoIpAddressCommand : PuoCmdlet
{
    private readonly List<IpRequest> _requests = [];
    private readonly HashSet<IPNetwork> _seen = [];

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] IpAddress { get; set; } = [];

    protected override void Process() => ForEachItem(IpAddress, text =>
    {
        var network = IpNetworks.Parse(text);
        if (_seen.Add(network) && ShouldProcess(IpNetworks.Format(network), "Unblock (remove from the nginx deny list)"))
            _requests.Add(new IpRequest(text, network));
    });

    protected override void End()
    {
        if (_requests.Count == 0)
            return;
        var update = Await(BlockListService.UnblockAsync(Context, _requests));
        foreach (var error in update.Errors)
            WriteItemError(error);
        foreach (var change in update.Changes)
            WriteObject(change);
    }
}
