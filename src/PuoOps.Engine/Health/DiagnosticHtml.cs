using System.Globalization;
using System.Net;
using System.Text;

namespace PuoOps.Engine.Health;

/// <summary>
/// Invoke-PuoDiagnostic -HtmlPath: the report as one self-contained HTML page to attach to an incident. Styles are
/// inline, the latency histogram is inline SVG, there is no script and nothing to fetch (a Content-Security-Policy of
/// default-src 'none' makes sure), so it opens the same offline, in a mail client or years later. All text is encoded.
/// </summary>
public static class DiagnosticHtml
{
    private const string Style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1b1f24;background:#fff}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
        table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid #eaeef2}
        th{background:#f6f8fa;font-weight:600}td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
        .status{display:inline-block;min-width:64px;text-align:center;padding:1px 8px;border-radius:10px;font-weight:600;color:#fff}
        .OK{background:#1a7f37}.Warning{background:#bf8700}.Critical{background:#cf222e}.Unknown{background:#6e7781}
        .num{white-space:nowrap;text-align:right}.meta{color:#57606a}.summary{margin:4px 0 8px}svg text{font:11px system-ui,sans-serif;fill:#57606a}svg .bar{fill:#0969da}
        """;

    /// <summary>
    /// Writes the page to <paramref name="path"/>: created new (never over an existing file) and readable by its owner
    /// only, since it holds host names, users and query text; a missing folder is created owner-only too.
    /// </summary>
    public static void Write(DiagnosticReport report, string path)
    {
        var bytes = Encoding.UTF8.GetBytes(Render(report));
        try
        {
            if (Path.GetDirectoryName(path) is { Length: > 0 } folder)
                AtomicFile.CreateOwnerOnlyDirectory(folder);
            FileStream file;
            try
            {
                file = AtomicFile.CreateExclusive(path);
            }
            catch (IOException) when (File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null)
            {
                throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Diagnostic.HtmlExists",
                    $"{path} already exists; the report never overwrites a file. Give a new name, e.g. diagnostics-$(Get-Date -Format yyyyMMdd-HHmm).html.", path);
            }
            using (file)
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Diagnostic.HtmlAccess",
                $"The report cannot be written to {path}: permission denied. Choose a folder this user may write to.", path, ex);
        }
        catch (IOException ex)
        {
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Diagnostic.HtmlWrite", $"The report could not be written to {path}: {ex.Message}", path, ex);
        }
    }

    public static string Render(DiagnosticReport report)
    {
        var html = new StringBuilder(64 * 1024);
        var started = report.Started.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(E($"Diagnostics of {report.Environment}: {report.Status} ({started})")).Append("</title>\n")
            .Append("<style>").Append(Style).Append("</style>\n</head>\n<body>\n");

        html.Append("<header>\n<h1>Diagnostics of ").Append(E(report.Environment)).Append(' ').Append(Badge(report.Status)).Append("</h1>\n")
            .Append("<p class=\"meta\">On ").Append(E(report.Host)).Append(", started ").Append(E(started)).Append(", took ")
            .Append(E(Units.Duration(report.Duration))).Append(". Made by PuoOps Invoke-PuoDiagnostic.</p>\n</header>\n");

        html.Append("<section id=\"status\">\n<h2>Status</h2>\n<table class=\"status-table\">\n<thead><tr><th>Section</th><th>Status</th><th>Summary</th><th class=\"num\">Took</th></tr></thead>\n<tbody>\n");
        foreach (var section in report.Sections)
            html.Append("<tr><td><a href=\"#").Append(Id(section.Name)).Append("\">").Append(E(section.Name.ToString())).Append("</a></td><td>")
                .Append(Badge(section.Status)).Append("</td><td>").Append(E(section.Summary)).Append("</td><td class=\"num\">")
                .Append(E(Units.Duration(section.Duration))).Append("</td></tr>\n");
        html.Append("</tbody>\n</table>\n</section>\n");

        if (report.Section(DiagnosticArea.Latency)?.Items.OfType<LatencyReport>().FirstOrDefault() is { } latency)
            html.Append("<section id=\"latency-histogram\">\n<h2>Latency distribution</h2>\n<p class=\"summary\">")
                .Append(E($"{latency.Count} requests to {latency.Url} ({latency.Mode}): P50 {Units.Duration(latency.P50)}, "
                    + $"P99 {Units.Duration(latency.P99)}, max {Units.Duration(latency.Max)}."))
                .Append("</p>\n").Append(Histogram(latency.Distribution)).Append("\n</section>\n");

        foreach (var section in report.Sections)
        {
            html.Append("<section id=\"").Append(Id(section.Name)).Append("\" class=\"section\">\n<h2>").Append(E(section.Name.ToString())).Append(' ')
                .Append(Badge(section.Status)).Append("</h2>\n<p class=\"summary\">").Append(E(section.Summary)).Append("</p>\n");
            if (section.ErrorId is not null)
                html.Append("<p class=\"meta\">Error id: ").Append(E(section.ErrorId)).Append("</p>\n");
            if (section.Rows.Count > 0)
            {
                html.Append("<table>\n<thead><tr>");
                foreach (var column in section.Columns)
                    html.Append("<th>").Append(E(column)).Append("</th>");
                html.Append("</tr></thead>\n<tbody>\n");
                foreach (var row in section.Rows)
                {
                    html.Append("<tr>");
                    for (var i = 0; i < row.Count; i++)
                        html.Append(IsLongText(section.Columns.ElementAtOrDefault(i)) ? "<td class=\"mono\">" : "<td>").Append(E(row[i])).Append("</td>");
                    html.Append("</tr>\n");
                }
                html.Append("</tbody>\n</table>\n");
            }
            html.Append("</section>\n");
        }
        return html.Append("</body>\n</html>\n").ToString();
    }

    /// <summary>
    /// The latency buckets as an SVG bar chart: one bar per (log-spaced) bucket, its height the count, the x axis the
    /// bucket bounds in milliseconds. A stall shows as a second hump far to the right.
    /// </summary>
    internal static string Histogram(IReadOnlyList<LatencyBucket> buckets)
    {
        const int width = 760, height = 260, left = 48, right = 12, top = 12, bottom = 44;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">")
            .Append("<title>Latency histogram</title>");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#f6f8fa\"/>");
        if (buckets.Count == 0)
            return svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"{height / 2}\" text-anchor=\"middle\">No latency was measured.</text></svg>").ToString();
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;
        var highest = Math.Max(1, buckets.Max(b => b.Count));
        var barWidth = (double)plotWidth / buckets.Count;
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{width - right}\" y2=\"{top + plotHeight}\" stroke=\"#8c959f\"/>")
            .Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{top + plotHeight}\" stroke=\"#8c959f\"/>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{top + 10}\" text-anchor=\"end\">{highest}</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{top + plotHeight}\" text-anchor=\"end\">0</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"14\" y=\"{top + plotHeight / 2}\" transform=\"rotate(-90 14 {top + plotHeight / 2})\" text-anchor=\"middle\">requests</text>");
        for (var i = 0; i < buckets.Count; i++)
        {
            var bucket = buckets[i];
            var barHeight = bucket.Count == 0 ? 0 : Math.Max(1.0, (double)bucket.Count / highest * plotHeight);
            var x = left + i * barWidth;
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect class=\"bar\" x=\"{x + 1:0.#}\" y=\"{top + plotHeight - barHeight:0.#}\" width=\"{Math.Max(1, barWidth - 2):0.#}\" height=\"{barHeight:0.#}\">")
                .Append("<title>").Append(E($"{bucket.Count} between {Units.Duration(bucket.From)} and {Units.Duration(bucket.To)}")).Append("</title></rect>");
            // Label every fourth bound (and the last), so the labels do not overlap.
            if (i % 4 == 0)
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:0.#}\" y=\"{top + plotHeight + 16}\" text-anchor=\"middle\">{E(Units.Duration(bucket.From))}</text>");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width - right}\" y=\"{top + plotHeight + 16}\" text-anchor=\"end\">{E(Units.Duration(buckets[^1].To))}</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{left + plotWidth / 2}\" y=\"{height - 8}\" text-anchor=\"middle\">latency (log scale)</text>");
        return svg.Append("</svg>").ToString();
    }

    private static string Badge(Status status) => $"<span class=\"status {status}\">{status}</span>";

    private static string Id(DiagnosticArea area) => area.ToString().ToLowerInvariant();

    private static bool IsLongText(string? column) => column is "Query" or "Command" or "Detail" or "Target" or "Path";

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
