using System.Management.Automation;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands.Postgres;

/// <summary>Who blocks whom: root blockers, each followed by the backends waiting on it. Pipe to Stop-PuoQuery.</summary>
[Cmdlet(VerbsCommon.Get, "PuoBlockingQuery", SupportsPaging = true)]
[OutputType(typeof(BlockingQuery))]
public sealed class GetPuoBlockingQueryCommand : PuoCmdlet
{
    /// <summary>Only the root blockers: the sessions to stop to release everything behind them.</summary>
    [Parameter]
    public SwitchParameter RootOnly { get; set; }

    protected override void Process() =>
        WriteRows(Await(BlockingQueryService.GetAsync(Context)).Where(row => !RootOnly || row.IsRootBlocker));
}
