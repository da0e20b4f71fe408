using System.Management.Automation;
using PuoOps.Engine.Backup;

namespace PuoOps.Commands.Backup;

/// <summary>The runbook's "df -h /backup": free space with a Status, and whether the next backup fits.</summary>
[Cmdlet(VerbsDiagnostic.Test, "PuoDiskSpace")]
[OutputType(typeof(DiskSpace))]
public sealed class TestPuoDiskSpaceCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    [TextOrProperty(nameof(Path), "FullName")]
    public string[] Path { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 100)]
    public double WarningPercent { get; set; } = 80;

    [Parameter]
    [ValidateRange(1, 100)]
    public double CriticalPercent { get; set; } = 90;

    protected override void Process() => ForEachItem(Path, path =>
        WriteObject(Await(DiskSpaceService.TestAsync(Context, GetUnresolvedProviderPathFromPSPath(path), WarningPercent, CriticalPercent))));
}
