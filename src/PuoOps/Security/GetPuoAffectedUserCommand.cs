using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Security;

namespace PuoOps.Commands.Security;

[Cmdlet(VerbsCommon.Get, "PuoAffectedUser", SupportsPaging = true)]
[OutputType(typeof(AffectedUser))]
public sealed class GetPuoAffectedUserCommand : PuoCmdlet
{
    /// <summary>The incident time: a point in time, or a duration back from now.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [TimeWindow]
    public DateTimeOffset Since { get; set; }

    [Parameter]
    [TimeWindow]
    public DateTimeOffset? Until { get; set; }

    protected override void Begin() => TimeInput.ValidateWindow(Since, Until);

    protected override void Process() =>
        WriteEach(AuditLogService.GetAffectedUsersAsync(Context, Since, Until, EnginePage(engineCounts: false)));
}
