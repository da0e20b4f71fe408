using System.Management.Automation;
using PuoOps.Engine.Security;

namespace PuoOps.Commands.Security;

[Cmdlet(VerbsCommon.Get, "PuoBlockedIpAddress", SupportsPaging = true)]
[OutputType(typeof(BlockedIpAddress))]
public sealed class GetPuoBlockedIpAddressCommand : PuoCmdlet
{
    /// <summary>Only the entries that contain these addresses or lie inside these networks.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] IpAddress { get; set; } = [];

    protected override void Process()
    {
        var entries = Await(BlockListService.ListAsync(Context));
        if (IpAddress.Length > 0)
        {
            var selected = new List<BlockedIpAddress>();
            ForEachItem(IpAddress, text =>
            {
                var network = IpNetworks.Parse(text);
                var matches = entries.Where(e => IpNetworks.Parse(e.IpAddress).Overlaps(network)).ToList();
                if (matches.Count == 0)
                    throw new PuoException(ErrorKind.NotFound, "PuoOps.Security.NotBlocked", $"{text} is not blocked: no entry of the block list covers it.", text);
                selected.AddRange(matches.Where(m => !selected.Contains(m)));
            });
            entries = selected;
        }
        WriteRows(entries);
    }
}
