using System.Diagnostics;
using System.Management.Automation;
using System.Text.Json;
using AngleSharp.Html.Parser;
using BigGustave;
using PuoOps.Engine.Environments;
using PuoOps.Engine.Health;
using PuoOps.StandIn;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Health;

/// <summary>
/// Invoke-PuoDiagnostic against the sandbox: every section reports, a failing one is Unknown with the reason while the
/// others run, the report converts to JSON cleanly, the summary fits 80 columns, and the HTML page is owner-only and
/// self-contained, which headless Chromium proves by rendering it offline.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // /proc, file modes
public sealed class DiagnosticTests : IDisposable
{
    private static readonly string[] AllSections = ["Containers", "Health", "Latency", "Postgres", "Database", "SlowQueries", "Redis", "Processes", "Disk"];

    private readonly ModuleHost _host = new();
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("puo-diag-");

    public void Dispose()
    {
        _host.Dispose();
        _folder.Delete(recursive: true);
    }

    private static Dictionary<string, object?> Vars(params (string Name, object? Value)[] pairs) => pairs.ToDictionary(p => p.Name, p => p.Value);

    private static string Text(PSObject o, string property) => o.Properties[property].Value?.ToString() ?? "";

    [Fact]
    public void The_sandbox_report_has_every_section_with_its_verdict_and_reads_at_80_columns()
    {
        var result = _host.Invoke("""
            $report = Invoke-PuoDiagnostic -BackupPath $backup -Verbose
            [pscustomobject]@{
                Report = $report
                Sections = @($report.Sections | ForEach-Object { [pscustomobject]@{ Name = "$($_.Name)"; Status = "$($_.Status)"; Summary = $_.Summary; ErrorId = $_.ErrorId; Items = $_.Items.Count } })
                View = $report | Out-String -Width 80
                SectionsView = $report.Sections | Out-String -Width 80
                Json = $report | ConvertTo-Json -Depth 8 -WarningVariable jsonWarnings
                JsonWarnings = @($jsonWarnings).Count
                Health = @($report.Section('Health').Items | ForEach-Object { "$($_.Component):$($_.Status)" })
            }
            """, Vars(("backup", _folder.FullName))).ThrowIfFailed();
        var row = Assert.Single(result.Output);
        var sections = ((object[])row.Properties["Sections"].Value).Cast<PSObject>().ToDictionary(s => Text(s, "Name"));
        Assert.Equal(AllSections, sections.Keys);
        var unknown = sections.Values.Where(s => Text(s, "Status") == "Unknown").Select(s => $"{Text(s, "Name")}: {Text(s, "Summary")}").ToList();
        Assert.True(unknown.Count == 0 || (!Sandbox.Current.DockerAvailable && unknown.All(u => u.StartsWith("Containers", StringComparison.Ordinal))), string.Join("\n", unknown));
        Assert.Equal("OK", Text(sections["Postgres"], "Status"));
        Assert.StartsWith("PostgreSQL 1", Text(sections["Postgres"], "Summary"));
        Assert.Equal("OK", Text(sections["Database"], "Status"));
        Assert.StartsWith("puo_memo is at migration a1b2c3d4e5f6; largest table public.memories", Text(sections["Database"], "Summary"));
        Assert.Equal("OK", Text(sections["Redis"], "Status"));
        Assert.StartsWith("Redis 7", Text(sections["Redis"], "Summary"));
        Assert.Equal("OK", Text(sections["SlowQueries"], "Status"));
        Assert.Contains(Text(sections["Disk"], "Status"), new[] { "OK", "Warning", "Critical" });
        Assert.Contains($"backup {_folder.FullName}:", Text(sections["Disk"], "Summary"));
        Assert.Contains("data ", Text(sections["Disk"], "Summary")); // the sandbox's PostgreSQL is local and its user a superuser
        Assert.True((int)sections["Latency"].Properties["Items"].Value == 1);
        Assert.True((int)sections["Processes"].Properties["Items"].Value == 10);
        Assert.Equal(["Api:OK", "Mcp:OK", "Postgres:OK", "Redis:OK", Sandbox.Current.DockerAvailable ? "Docker:OK" : "Docker:Critical"],
            ((object[])row.Properties["Health"].Value).Select(o => o.ToString()));
        if (Sandbox.Current.DockerAvailable)
        {
            Assert.Equal("OK", Text(sections["Containers"], "Status"));
            Assert.Equal("2 of 2 running in project puo-memo.", Text(sections["Containers"], "Summary"));
        }

        var view = Text(row, "View").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        Assert.All(view, line => Assert.True(line.Length <= 80, $"wider than 80: {line}"));
        Assert.StartsWith("Diagnostics of " + _host.EnvironmentName + ": ", view[0]);
        Assert.Equal("Status   Section     Summary", view[2]);
        Assert.Contains(view, l => l.StartsWith("OK       Postgres    PostgreSQL 1", StringComparison.Ordinal));
        var table = Text(row, "SectionsView").Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        Assert.Equal(AllSections.Length + 2, table.Count);
        Assert.Matches(@"^Status\s+Name\s+Took\s+Summary$", table[0]);
        Assert.All(table, line => Assert.True(line.Length <= 80, $"wider than 80: {line}"));
        Assert.All(AllSections, name => Assert.Contains(table, l => l.Contains(" " + name + " ", StringComparison.Ordinal)));

        // Plain data: every level within the depth, nothing truncated, and it reads back.
        Assert.Equal(0, (int)row.Properties["JsonWarnings"].Value);
        var json = Text(row, "Json");
        Assert.InRange(json.Length, 1000, 1_000_000);
        using var document = JsonDocument.Parse(json);
        Assert.Equal(AllSections.Length, document.RootElement.GetProperty("Sections").GetArrayLength());
        foreach (var secret in new[] { Sandbox.Current.PostgresPassword, Sandbox.Current.RedisPassword })
        {
            Assert.DoesNotContain(secret, json);
            Assert.DoesNotContain(secret, Text(row, "View"));
            Assert.DoesNotContain(secret, result.AllText);
        }
        Assert.Contains(result.Verbose, v => v.StartsWith("Diagnostics Postgres: OK in ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_section_that_fails_is_unknown_with_the_reason_and_the_others_still_report()
    {
        // Redis on a port where nothing listens, an API that accepts and never answers; PostgreSQL is the sandbox's.
        await using var mcp = await StandInServer.StartAsync("xunit-diag-mcp");
        using var hung = new BlackholeServer();
        var closed = TestEnvironments.ClosedPort();
        var result = _host.Invoke("""
            Connect-PuoEnvironment -Name $name -PostgresConnectionString $pg -RedisConnectionString "127.0.0.1:$closed" -ApiUrl $api -McpUrl $mcp `
                -DockerHost 'unix:///nonexistent/docker.sock' -SkipCheck
            try {
                $report = Invoke-PuoDiagnostic -Environment $name -Section Health, Latency, Postgres, Redis, Containers -TimeoutSec 5
                [pscustomobject]@{ Status = "$($report.Status)"
                                   Sections = @($report.Sections | ForEach-Object { [pscustomobject]@{ Name = "$($_.Name)"; Status = "$($_.Status)"; Summary = $_.Summary; ErrorId = $_.ErrorId } }) }
            }
            finally { Disconnect-PuoEnvironment -Name $name -Confirm:$false }
            """, Vars(("name", "xunit-diag-" + Guid.NewGuid().ToString("N")[..6]), ("pg", Sandbox.Current.PostgresConnectionString), ("closed", closed),
            ("api", $"http://127.0.0.1:{hung.Port}"), ("mcp", mcp.BaseUrl.ToString()))).ThrowIfFailed();
        var row = Assert.Single(result.Output);
        var sections = ((object[])row.Properties["Sections"].Value).Cast<PSObject>().ToDictionary(s => Text(s, "Name"));
        Assert.Equal(["Containers", "Health", "Latency", "Postgres", "Redis"], sections.Keys);
        Assert.Equal("Critical", Text(row, "Status"));

        Assert.Equal("Unknown", Text(sections["Redis"], "Status"));
        Assert.True(Text(sections["Redis"], "ErrorId").StartsWith("PuoOps.Redis.", StringComparison.Ordinal),
            $"{Text(sections["Redis"], "ErrorId")}: {Text(sections["Redis"], "Summary")}");
        Assert.Contains($"127.0.0.1:{closed}", Text(sections["Redis"], "Summary"));
        Assert.Equal("Unknown", Text(sections["Containers"], "Status"));
        Assert.StartsWith("PuoOps.Docker.", Text(sections["Containers"], "ErrorId"));
        Assert.Contains("/nonexistent/docker.sock", Text(sections["Containers"], "Summary"));

        Assert.Equal("Critical", Text(sections["Health"], "Status"));
        Assert.Contains("Api: No answer within 5 s.", Text(sections["Health"], "Summary"));
        Assert.Equal("Critical", Text(sections["Latency"], "Status"));
        Assert.Contains("Every request failed: timeout", Text(sections["Latency"], "Summary"));
        Assert.Equal("OK", Text(sections["Postgres"], "Status"));
    }

    [Fact]
    public void Ctrl_C_stops_a_report_whose_sections_wait_on_a_hung_api()
    {
        using var hung = new BlackholeServer();
        var name = "xunit-diag-" + Guid.NewGuid().ToString("N")[..6];
        _host.Invoke("Connect-PuoEnvironment -Name $name -ApiUrl $api -SkipCheck",
            Vars(("name", name), ("api", $"http://127.0.0.1:{hung.Port}"))).ThrowIfFailed();
        try
        {
            _host.AssertCtrlCStops("Invoke-PuoDiagnostic -Environment $name -Section Health, Latency -TimeoutSec 600");
        }
        finally
        {
            _host.Invoke("Disconnect-PuoEnvironment -Name $name -Confirm:$false", Vars(("name", name))).ThrowIfFailed();
        }
    }

    [Fact]
    public void The_html_page_is_created_owner_only_in_an_owner_only_folder_and_never_over_an_existing_file()
    {
        var page = Path.Combine(_folder.FullName, "incident", "report.html");
        var first = _host.Invoke("(Invoke-PuoDiagnostic -HtmlPath $page -Section Postgres, Database).HtmlPath", Vars(("page", page))).ThrowIfFailed();
        Assert.Equal(page, Assert.Single(first.Output).ToString());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(page));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(page)!));
        var written = File.ReadAllText(page);
        Assert.Contains("<section id=\"postgres\"", written);
        Assert.DoesNotContain(Sandbox.Current.PostgresPassword, written);

        var again = _host.Invoke("Invoke-PuoDiagnostic -HtmlPath $page -Section Postgres", Vars(("page", page)));
        var error = Assert.Single(again.Errors);
        Assert.Equal("PuoOps.Diagnostic.HtmlExists,PuoOps.Commands.Health.InvokePuoDiagnosticCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(page, error.TargetObject);
        Assert.Empty(again.Output);
        Assert.Equal(written, File.ReadAllText(page));

        // A page that cannot be written is an error naming it, and the report still comes back.
        var unwritable = "/proc/puo-no-such-folder/report.html";
        var failed = _host.Invoke("(Invoke-PuoDiagnostic -HtmlPath $page -Section Postgres).Status", Vars(("page", unwritable)));
        var writeError = Assert.Single(failed.Errors);
        Assert.Equal("PuoOps.Diagnostic.HtmlWrite", writeError.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(ErrorCategory.InvalidOperation, writeError.CategoryInfo.Category);
        Assert.Equal(unwritable, writeError.TargetObject);
        Assert.Equal("OK", Assert.Single(failed.Output).ToString());

        var preview = Path.Combine(_folder.FullName, "preview.html");
        var whatIf = _host.Invoke("(Invoke-PuoDiagnostic -HtmlPath $page -Section Postgres -WhatIf).Sections.Count", Vars(("page", preview))).ThrowIfFailed();
        Assert.Equal("1", Assert.Single(whatIf.Output).ToString());
        Assert.False(File.Exists(preview));
    }

    [ChromiumFact]
    public void Headless_chromium_renders_the_page_offline_with_every_section_and_the_latency_histogram()
    {
        var page = Path.Combine(_folder.FullName, "report.html");
        var result = _host.Invoke("""
            $report = Invoke-PuoDiagnostic -HtmlPath $page -BackupPath $backup
            $report.Sections | ForEach-Object { [pscustomobject]@{ Id = "$($_.Name)".ToLowerInvariant(); Summary = $_.Summary } }
            """, Vars(("page", page), ("backup", _folder.FullName))).ThrowIfFailed();
        Assert.Equal(AllSections.Length, result.Output.Count);

        var dom = new HtmlParser().ParseDocument(Chromium.Run(_folder, "--dump-dom", new Uri(page).AbsoluteUri));
        foreach (var section in result.Output)
        {
            var element = dom.GetElementById(Text(section, "Id"));
            Assert.NotNull(element);
            Assert.Equal(Text(section, "Summary"), element.QuerySelector("p.summary")?.TextContent);
        }
        Assert.Equal(AllSections.Length, dom.QuerySelectorAll("#status tbody tr").Length);
        var bars = dom.QuerySelectorAll("#latency-histogram svg rect.bar");
        Assert.NotEmpty(bars);
        Assert.Contains(bars, bar => bar.GetAttribute("height") is { } h && double.Parse(h, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Empty(dom.QuerySelectorAll("script, link, img, iframe, object"));

        var screenshot = Path.Combine(_folder.FullName, "report.png");
        Chromium.Run(_folder, $"--screenshot={screenshot}", "--window-size=1200,1600", new Uri(page).AbsoluteUri);
        var png = Png.Open(screenshot);
        Assert.Equal(1200, png.Width);
        // Not blank: a page of text, badges and bars has many colours and real contrast, a blank one neither.
        var colours = new HashSet<int>();
        double sum = 0, sumOfSquares = 0;
        var samples = 0;
        for (var y = 0; y < png.Height; y += 4)
        {
            for (var x = 0; x < png.Width; x += 4)
            {
                var pixel = png.GetPixel(x, y);
                colours.Add(pixel.R << 16 | pixel.G << 8 | pixel.B);
                var luminance = 0.299 * pixel.R + 0.587 * pixel.G + 0.114 * pixel.B;
                sum += luminance;
                sumOfSquares += luminance * luminance;
                samples++;
            }
        }
        var variance = sumOfSquares / samples - Math.Pow(sum / samples, 2);
        Assert.True(colours.Count > 20, $"the screenshot has only {colours.Count} colours");
        Assert.True(variance > 100, $"the screenshot's luminance variance is only {variance:0.#}");
    }
}

/// <summary>
/// A test that needs headless Chromium (Debian's chromium; the sandbox installs it as root): skipped when it is missing,
/// except under CI=true, where a missing browser fails the test.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (!File.Exists(Chromium.Program) && System.Environment.GetEnvironmentVariable("CI") != "true")
            Skip = $"{Chromium.Program} is not installed (apt-get install chromium, or run the sandbox as root).";
    }
}

/// <summary>Runs headless Chromium once, offline, with a new empty profile folder that is deleted after.</summary>
internal static class Chromium
{
    public const string Program = "/usr/bin/chromium";

    public static string Run(DirectoryInfo under, params string[] arguments)
    {
        if (!File.Exists(Program))
            throw new InvalidOperationException($"{Program} is missing: apt-get install chromium (the sandbox does it when run as root).");
        var profile = under.CreateSubdirectory("chromium-profile-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var start = new ProcessStartInfo(Program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", $"--user-data-dir={profile.FullName}" }.Concat(arguments))
                start.ArgumentList.Add(flag);
            using var chromium = Process.Start(start)!;
            var output = chromium.StandardOutput.ReadToEndAsync();
            var errors = chromium.StandardError.ReadToEndAsync();
            if (!chromium.WaitForExit(120_000))
            {
                chromium.Kill(entireProcessTree: true);
                throw new TimeoutException("Chromium did not finish within 120 s: " + errors.Result);
            }
            if (chromium.ExitCode != 0)
                throw new InvalidOperationException($"Chromium exited with {chromium.ExitCode}: {errors.Result}");
            return output.Result;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
