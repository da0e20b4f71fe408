using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Security;

namespace PuoOps.Commands.Security;

[Cmdlet(VerbsCommon.Get, "PuoAuditLog", SupportsPaging = true)]
[OutputType(typeof(AuditLogEntry))]
public sealed class GetPuoAuditLogCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Action { get; set; } = [];

    [Parameter]
    [TimeWindow]
    public DateTimeOffset? Since { get; set; }

    [Parameter]
    [TimeWindow]
    public DateTimeOffset? Until { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("UserId")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] User { get; set; } = [];

    /// <summary>Addresses or networks (CIDR); rows whose ip_address lies inside any of them.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] IpAddress { get; set; } = [];

    protected override void Begin() => TimeInput.ValidateWindow(Since, Until);

    protected override void Process()
    {
        var query = new AuditLogQuery
        {
            Since = Since, Until = Until,
            Actions = NamePatterns(Action, nameof(Action)),
            Users = NamePatterns(User, nameof(User)),
            Networks = IpAddress.Select(a => IpNetworks.Parse(a)).ToList(),
        };
        var context = Context;
        var page = EnginePage(engineCounts: true);
        if (TotalCountRequested)
            SetEngineTotal(Await(AuditLogService.CountAsync(context, query)));
        WriteEach(AuditLogService.GetAsync(context, query, page));
    }
}
