using System.Text;
using PuoOps.Engine.Http;

namespace PuoOps.Engine.Health;

/// <summary>
/// Get-PuoMetric's sources: a live scrape of a /metrics page (the runbook's <c>curl :8000/metrics</c>) through the
/// environment's HTTP client, or a scrape saved to a file. Both are parsed by <see cref="PrometheusParser"/>.
/// </summary>
public static class MetricService
{
    /// <summary>What a scraper asks for: the text format first, OpenMetrics also understood.</summary>
    private const string Accept = "text/plain;version=0.0.4;q=0.9, application/openmetrics-text;version=1.0.0;q=0.8, */*;q=0.1";

    /// <summary>The environment's API /metrics.</summary>
    public static Uri DefaultUrl(PuoEnvironment environment) => HealthCheckService.Under(environment.ApiUrl, "metrics");

    /// <summary>
    /// Scrapes <paramref name="url"/>: any non-2xx answer, or a page that is HTML or JSON, is an error naming the URL;
    /// otherwise the page, ready to parse (a page cut at <see cref="HttpConnections.MaxBodyBytes"/> says so).
    /// </summary>
    public static async Task<MetricPage> ScrapeAsync(OperationContext ctx, Uri url)
    {
        var shown = HttpUrl.Display(url);
        ctx.Log($"Scraping {shown}.");
        var answer = await HttpConnections.GetAsync(ctx, url, Accept).ConfigureAwait(false);
        if (!answer.IsSuccess)
            throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Metrics.Status",
                $"{shown} answered HTTP {answer.StatusCode} {answer.ReasonPhrase}, not a metrics page.{HttpHealthRules.Snippet(answer.Body, " Body: ")}", shown);
        if (answer.MediaType is { } type && (type.Contains("html", StringComparison.OrdinalIgnoreCase) || type.Contains("json", StringComparison.OrdinalIgnoreCase)))
            throw NotExposition(shown, $"it is {type}");
        var openMetrics = answer.MediaType?.StartsWith("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) == true;
        return new MetricPage(shown, new StringReader(Encoding.UTF8.GetString(answer.Body)), openMetrics, answer.Truncated);
    }

    /// <summary>
    /// Opens a saved scrape; a missing file is ObjectNotFound, an unreadable one PermissionDenied, both naming it.
    /// It is OpenMetrics when its last line is # EOF.
    /// </summary>
    public static MetricPage Open(string path)
    {
        if (Directory.Exists(path))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Metrics.FileRead", $"{path} is a folder; give the saved scrape's file.", path);
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 65536, FileOptions.SequentialScan);
            var openMetrics = EndsWithEof(stream);
            return new MetricPage(path, new StreamReader(stream, Encoding.UTF8), openMetrics, Truncated: false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Metrics.FileNotFound", $"The saved scrape {path} does not exist.", path, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Metrics.FileAccess",
                $"The saved scrape {path} cannot be read by this user: permission denied.", path, e);
        }
        catch (IOException e)
        {
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Metrics.FileRead", $"The saved scrape {path} cannot be read: {e.Message}", path, e);
        }
    }

    /// <summary>The error for a page that is not the exposition format at all.</summary>
    public static PuoException NotExposition(string source, string why) =>
        new(ErrorKind.InvalidArgument, "PuoOps.Metrics.NotExposition",
            $"{source} is not a Prometheus or OpenMetrics text page ({why}). Check the URL or file: it should be what /metrics serves.", source);

    private static bool EndsWithEof(FileStream stream)
    {
        if (!stream.CanSeek)
            return false;
        var tail = new byte[Math.Min(stream.Length, 64)];
        stream.Seek(-tail.Length, SeekOrigin.End);
        stream.ReadExactly(tail);
        stream.Seek(0, SeekOrigin.Begin);
        return Encoding.UTF8.GetString(tail).TrimEnd().EndsWith("# EOF", StringComparison.Ordinal);
    }
}

/// <summary>A metrics page ready to parse: where it came from, its text, whether it is OpenMetrics, whether it was cut short.</summary>
public sealed record MetricPage(string Source, TextReader Reader, bool OpenMetrics, bool Truncated) : IDisposable
{
    /// <summary>How many malformed lines are reported one by one; the rest are counted.</summary>
    public const int MaxWarnings = 10;

    /// <summary>
    /// The page's series, as they are read. Malformed lines are reported through <paramref name="warn"/> (the first
    /// <see cref="MaxWarnings"/> with their line numbers, then a count). A page of which no line is a sample, only
    /// malformed ones, is not a metrics page at all: that is an error (<see cref="MetricService.NotExposition"/>).
    /// </summary>
    public IEnumerable<Metric> Read(Action<string> warn)
    {
        var held = new List<string>();
        var reported = 0;
        var skipped = 0;
        var any = false;
        void Malformed(int line, string message)
        {
            var text = $"{Source} line {line}: {message}";
            if (reported + held.Count >= MaxWarnings)
                skipped++;
            else if (any)
            {
                warn(text);
                reported++;
            }
            else
                held.Add(text); // until a sample parses, this may be no metrics page at all
        }
        foreach (var metric in PrometheusParser.Parse(Reader, Source, OpenMetrics, Malformed))
        {
            if (!any)
            {
                any = true;
                held.ForEach(warn);
                reported = held.Count;
                held.Clear();
            }
            yield return metric;
        }
        if (!any && held.Count > 0)
            throw MetricService.NotExposition(Source, $"{held.Count + skipped} malformed line(s) and no sample; the first: {held[0][(Source.Length + 1)..]}");
        if (skipped > 0)
            warn($"{Source}: {skipped} more malformed line(s) were skipped.");
        if (Truncated)
            warn($"{Source} is larger than {HttpConnections.MaxBodyBytes / 1024 / 1024} MiB; only that much was read.");
    }

    public void Dispose() => Reader.Dispose();
}
