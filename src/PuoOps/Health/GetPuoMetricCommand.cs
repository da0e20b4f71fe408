using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Health;
using PuoOps.Engine.Http;

namespace PuoOps.Commands.Health;

/// <summary>A Prometheus /metrics page (the runbook's curl :8000/metrics), or a saved scrape, as objects.</summary>
[Cmdlet(VerbsCommon.Get, "PuoMetric", DefaultParameterSetName = UrlSet)]
[OutputType(typeof(Metric))]
public sealed class GetPuoMetricCommand : PuoCmdlet
{
    private const string UrlSet = "Url";
    private const string PathSet = "Path";

    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    [Parameter(ParameterSetName = UrlSet)]
    [ValidateNotNullOrEmpty]
    public string? Url { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    private List<NamePattern>? _patterns;

    protected override void Begin() => _patterns = Name?.Select(NamePattern.Parse).ToList();

    protected override void Process()
    {
        using var page = Path is not null
            ? MetricService.Open(SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path))
            : Await(MetricService.ScrapeAsync(Context, ParseUrl()));
        var unmatched = _patterns?.Where(p => !p.HasWildcards).ToList() ?? [];
        foreach (var metric in page.Read(WriteWarning))
        {
            if (_patterns is not null && !_patterns.Any(p => p.IsMatch(metric.Name)))
                continue;
            unmatched.RemoveAll(p => p.IsMatch(metric.Name));
            WriteObject(metric);
        }
        foreach (var literal in unmatched)
            WriteItemError(new PuoException(ErrorKind.NotFound, "PuoOps.Metrics.NotFound",
                $"{page.Source} has no metric named '{literal.Literal}'. List the names with Get-PuoMetric | Sort-Object Name -Unique.", literal.Literal));
    }

    private Uri ParseUrl() => Url is null ? MetricService.DefaultUrl(CurrentEnvironment) : HttpUrl.Parse(Url, "PuoOps.Metrics.Url", "-Url");
}
