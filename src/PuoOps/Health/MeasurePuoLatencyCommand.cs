using System.Management.Automation;
using PuoOps.Engine.Health;
using PuoOps.Engine.Http;

namespace PuoOps.Commands.Health;

/// <summary>Latency percentiles of a URL under a closed-loop concurrency or a fixed open-loop rate, judged against an SLA on P99.</summary>
[Cmdlet(VerbsDiagnostic.Measure, "PuoLatency", DefaultParameterSetName = ConcurrencySet)]
[OutputType(typeof(LatencyReport))]
public sealed class MeasurePuoLatencyCommand : PuoCmdlet
{
    private const string ConcurrencySet = "Concurrency";
    private const string RateSet = "Rate";

    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Url { get; set; }

    [Parameter]
    [ValidateRange(1, LatencyService.MaxCount)]
    public long Count { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int DurationSec { get; set; }

    [Parameter(ParameterSetName = ConcurrencySet)]
    [ValidateRange(1, 1000)]
    public int Concurrency { get; set; } = 1;

    [Parameter(Mandatory = true, ParameterSetName = RateSet)]
    [ValidateRange(0.01, 100000.0)]
    public double Rate { get; set; }

    [Parameter]
    [Duration]
    public TimeSpan Sla { get; set; } = TimeSpan.FromSeconds(1);

    protected override void Process()
    {
        var url = Url is null ? HealthCheckService.HealthUrl(CurrentEnvironment.ApiUrl) : HttpUrl.Parse(Url, "PuoOps.Latency.Url", "-Url");
        var options = new LatencyOptions
        {
            Url = url,
            Count = MyInvocation.BoundParameters.ContainsKey(nameof(Count)) ? Count : null,
            Duration = MyInvocation.BoundParameters.ContainsKey(nameof(DurationSec)) ? TimeSpan.FromSeconds(DurationSec) : null,
            Concurrency = Concurrency,
            Rate = ParameterSetName == RateSet ? Rate : null,
            Sla = Sla,
        };
        WriteObject(Await(LatencyService.MeasureAsync(Context, options)));
    }
}
