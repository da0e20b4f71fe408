using System.Management.Automation;
using PuoOps.Engine.Health;
using PuoOps.Engine.Http;

namespace PuoOps.Commands.Health;

/// <summary>The runbook's health checks, all at once: API and MCP /health, PostgreSQL, Redis, Docker and any URL.</summary>
[Cmdlet(VerbsDiagnostic.Test, "PuoHealth")]
[OutputType(typeof(HealthCheck), typeof(bool))]
public sealed class TestPuoHealthCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [AllowEmptyCollection]
    [ValidateSet(nameof(HealthComponent.Api), nameof(HealthComponent.Mcp), nameof(HealthComponent.Postgres), nameof(HealthComponent.Redis),
        nameof(HealthComponent.Docker), IgnoreCase = true)]
    public HealthComponent[]? Component { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Url { get; set; }

    [Parameter]
    [ValidateRange(100, 599)]
    public int[]? ExpectedStatusCode { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? JsonField { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? JsonValue { get; set; }

    [Parameter]
    [Duration]
    public TimeSpan WarningLatency { get; set; } = TimeSpan.FromSeconds(1);

    [Parameter]
    [Duration]
    public TimeSpan CertificateExpiryWarning { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Return only $true (nothing Critical or Unknown) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void Begin()
    {
        if (WarningLatency <= TimeSpan.Zero)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Health.WarningLatency",
                $"-WarningLatency must be above zero (got {WarningLatency}).", WarningLatency));
        if (CertificateExpiryWarning < TimeSpan.Zero)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Health.CertificateExpiryWarning",
                $"-CertificateExpiryWarning must not be negative (got {CertificateExpiryWarning}).", CertificateExpiryWarning));
    }

    protected override void Process()
    {
        var urls = new List<Uri>();
        foreach (var text in Url ?? [])
        {
            if (HttpUrl.TryParse(text, out var url))
                urls.Add(url);
            else
                WriteError(ErrorRecords.InvalidArgument("PuoOps.Health.Url",
                    $"-Url '{text}' is not an absolute http:// or https:// URL; it was not checked.", text));
        }
        var options = new HealthCheckOptions
        {
            Components = Component, Urls = urls, ExpectedStatusCodes = ExpectedStatusCode, JsonField = JsonField, JsonValues = JsonValue,
            WarningLatency = WarningLatency, CertificateExpiryWarning = CertificateExpiryWarning,
        };
        var checks = Await(HealthCheckService.RunAsync(Context, options));
        if (Quiet)
            WriteObject(checks.All(c => c.Status is Status.OK or Status.Warning));
        else
            WriteObject(checks, enumerateCollection: true);
    }
}
