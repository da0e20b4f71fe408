using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;
using System.Security;
using System.Security.Cryptography;
using System.Text;
using PuoOps.Tests.Infrastructure;
using Xunit.Abstractions;

namespace PuoOps.Tests.Secrets;

/// <summary>
/// Runs Test-PuoSecretEnvironment, Reset-PuoApiKey and Update-PuoClientConfig in many scenarios (errors, -WhatIf, prompts,
/// pipelines) in a runspace whose host records everything shown, with every stream on, and scans all of it for the test
/// secrets: each record's ToString, Format-List *, default view and JSON, each error's record, exception, Get-Error view and
/// target, warnings, verbose, debug, information and progress records, What-if lines and prompt texts. A hit is a secret,
/// any 8 characters of one, or the first 6 of one (the seeded secrets all begin with the marker "Zx9Q", searched for too).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SecretLeakScanTests(ITestOutputHelper log) : IDisposable
{
    private const string Marker = "Zx9Q";
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-leak-").FullName;
    private readonly List<string> _secrets = [];
    private readonly List<(string Scenario, string What, string Text)> _outputs = [];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void No_stream_of_the_secrets_cmdlets_shows_a_secret_or_part_of_one()
    {
        using var host = new RecordingHost();
        var state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(Path.Combine(System.Environment.GetEnvironmentVariable("PUO_MODULE_PATH")
            ?? throw new InvalidOperationException("PUO_MODULE_PATH is not set; run build.ps1 -Task Test."), "PuoOps.psd1"));
        using var runspace = RunspaceFactory.CreateRunspace(host, state);
        runspace.Open();
        foreach (var (name, value) in new[] { ("VerbosePreference", "Continue"), ("DebugPreference", "Continue"), ("InformationPreference", "Continue"),
                     ("WarningPreference", "Continue"), ("ProgressPreference", "Continue"), ("ErrorActionPreference", "Continue") })
            runspace.SessionStateProxy.SetVariable(name, value);

        var envFile = Path.Combine(_dir, ".env");
        var apiKey = Secret();
        var jwt = Secret();
        var dbPassword = Secret();
        WriteEnv(envFile, $"# stack\nexport API_KEY={apiKey}  # primary\nJWT_SECRET=\"{jwt}\"\nDATABASE_URL=postgres://puo:{dbPassword}@db/puo\n" +
            $"REFRESH_SECRET='{Secret()}'\nLEGACY_TOKEN={Marker}changeme\nEMPTY_KEY=\n");
        File.WriteAllText(Path.Combine(_dir, ".env.example"), $"API_KEY={Marker}example-api-key-value\n");
        Run(runspace, host, "connect", "Connect-PuoEnvironment -Name leak -DockerHost $d -EnvFile $f -SkipCheck",
            new() { ["d"] = Sandbox.Current.DockerHost ?? "unix:///nonexistent.sock", ["f"] = envFile });

        // Test-PuoSecretEnvironment
        Run(runspace, host, "test: defaults, file only", "Test-PuoSecretEnvironment");
        WithProcessVariable("API_KEY", Secret(), () => Run(runspace, host, "test: process differs", "Test-PuoSecretEnvironment -Name API_KEY, JWT_SECRET"));
        WithProcessVariable("API_KEY", apiKey, () => Run(runspace, host, "test: process equals file", "Test-PuoSecretEnvironment -Name API_KEY"));
        WithProcessVariable("PUO_LEAK_TOKEN", Marker + "secret", () =>
            Run(runspace, host, "test: wildcards over file and process", "Test-PuoSecretEnvironment -Name *"));
        WithProcessVariable("API_KEY", Marker + "example-api-key-value", () =>
            Run(runspace, host, "test: example value, quiet", "Test-PuoSecretEnvironment -Name API_KEY; Test-PuoSecretEnvironment -Quiet"));
        Run(runspace, host, "test: missing named file", "Test-PuoSecretEnvironment -EnvFile (Join-Path $d nope.env)", new() { ["d"] = _dir });
        Run(runspace, host, "test: bad wildcard", "Test-PuoSecretEnvironment -Name 'API_[KEY'");
        var unterminated = Path.Combine(_dir, "broken", ".env");
        WriteEnv(unterminated, $"A=1\nAPI_KEY=\"{Secret()}\nB=2\n");
        Run(runspace, host, "test: unterminated quote", "Test-PuoSecretEnvironment -EnvFile $f", new() { ["f"] = unterminated });
        Run(runspace, host, "test: format views", "Test-PuoSecretEnvironment -Name * | Format-Table -AutoSize | Out-String -Width 200");

        // Reset-PuoApiKey (each rotation's new values join the secrets to look for)
        Run(runspace, host, "reset: whatif all", "Reset-PuoApiKey -All -WhatIf");
        host.Answer = 2; // "No"
        Run(runspace, host, "reset: confirm refused", "Reset-PuoApiKey -All -Confirm");
        host.Answer = 0; // "Yes"
        Run(runspace, host, "reset: confirm accepted", "Reset-PuoApiKey -All -Confirm -PassThru | Tee-Object -Variable r; $r | Format-List *");
        Run(runspace, host, "reset: passthru", "Reset-PuoApiKey -PassThru -Confirm:$false -Name *SECRET");
        Run(runspace, host, "reset: symbols", "Reset-PuoApiKey -IncludeSymbols -Length 300 -PassThru -Confirm:$false");
        Run(runspace, host, "reset: unknown key", "Reset-PuoApiKey -Name NOPE, API_KEY -Confirm:$false");
        Run(runspace, host, "reset: missing file", "Reset-PuoApiKey -EnvFile (Join-Path $d nope.env) -Confirm:$false", new() { ["d"] = _dir });
        Run(runspace, host, "reset: unterminated quote", "Reset-PuoApiKey -EnvFile $f -Confirm:$false", new() { ["f"] = unterminated });
        var link = Path.Combine(_dir, "link", ".env");
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        File.CreateSymbolicLink(link, envFile);
        Run(runspace, host, "reset: symbolic link", "Reset-PuoApiKey -EnvFile $f -Confirm:$false", new() { ["f"] = link });
        var twice = Path.Combine(_dir, "twice", ".env");
        WriteEnv(twice, $"API_KEY={Secret()}\nAPI_KEY='{Secret()}'\n");
        WithProcessVariable("API_KEY", Secret(), () =>
            Run(runspace, host, "reset: duplicate key, session variable", "Reset-PuoApiKey -EnvFile $f -Confirm:$false -PassThru", new() { ["f"] = twice }));
        Run(runspace, host, "reset: from the check", "Test-PuoSecretEnvironment -Name LEGACY_TOKEN, EMPTY_KEY | Reset-PuoApiKey -Confirm:$false");
        if (Sandbox.Current.DockerAvailable)
        {
            var stack = Path.Combine(_dir, "stack", ".env");
            WriteEnv(stack, $"COMPOSE_PROJECT_NAME=puo-memo\nAPI_KEY={Secret()}\n");
            Run(runspace, host, "reset: restart api and mcp", "Reset-PuoApiKey -EnvFile $f -Confirm:$false | Restart-PuoService api, mcp -Wait -TimeoutSec 60",
                new() { ["f"] = stack });
        }

        // Update-PuoClientConfig
        var cursor = Path.Combine(_dir, "cursor", "mcp.json");
        var claude = Path.Combine(_dir, "claude", "claude_desktop_config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(claude)!);
        File.WriteAllText(claude, $"{{\"mcpServers\":{{\"puo-memo\":{{\"command\":\"python\",\"args\":[\"s.py\"],\"env\":{{\"API_KEY\":\"{Secret()}\",\"DB\":\"{Secret()}\"}}}}}}}}");
        var vaultKey = Secret();
        Run(runspace, host, "update: new cursor file, key given", "Update-PuoClientConfig -Path $p -ApiKey $k -Confirm:$false",
            new() { ["p"] = cursor, ["k"] = Secure(vaultKey) });
        Run(runspace, host, "update: claude whatif", "Update-PuoClientConfig -Path $p -WhatIf", new() { ["p"] = claude });
        Run(runspace, host, "update: claude confirmed", "Update-PuoClientConfig -Path $p -Confirm | Format-List *", new() { ["p"] = claude });
        Run(runspace, host, "update: unchanged", "Update-PuoClientConfig -Path $p", new() { ["p"] = claude });
        var withUrl = Path.Combine(_dir, "url", "mcp.json");
        Directory.CreateDirectory(Path.GetDirectoryName(withUrl)!);
        File.WriteAllText(withUrl, $"{{\"mcpServers\":{{\"puo-memo\":{{\"url\":\"https://ops:{Secret()}@memo.example/mcp?token={Secret()}\",\"headers\":{{\"Authorization\":\"Bearer {Secret()}\"}}}}}}}}");
        Run(runspace, host, "update: url with credentials, whatif", "Update-PuoClientConfig -Path $p -Url https://memo.example/mcp -WhatIf", new() { ["p"] = withUrl });
        Run(runspace, host, "update: url with credentials", "Update-PuoClientConfig -Path $p -Url https://memo.example/mcp -Confirm:$false", new() { ["p"] = withUrl });
        var invalid = Path.Combine(_dir, "invalid", "mcp.json");
        Directory.CreateDirectory(Path.GetDirectoryName(invalid)!);
        File.WriteAllText(invalid, $"{{\"mcpServers\": {{\"puo-memo\": {{\"command\": \"x\", \"env\": {{\"API_KEY\": {Secret()}}}}}}}}}");
        Run(runspace, host, "update: invalid json", "Update-PuoClientConfig -Path $p -Confirm:$false; $Error[0] | Get-Error | Out-String", new() { ["p"] = invalid });
        var duplicate = Path.Combine(_dir, "duplicate", "mcp.json");
        Directory.CreateDirectory(Path.GetDirectoryName(duplicate)!);
        File.WriteAllText(duplicate, $"{{\"mcpServers\":{{\"puo-memo\":{{\"url\":\"u\"}},\"puo-memo\":{{\"headers\":{{\"Authorization\":\"Bearer {Secret()}\"}}}}}}}}");
        Run(runspace, host, "update: duplicate entry", "Update-PuoClientConfig -Path $p -Confirm:$false", new() { ["p"] = duplicate });
        var remote = Path.Combine(_dir, "remote", "claude_desktop_config.json");
        Directory.CreateDirectory(Path.GetDirectoryName(remote)!);
        File.WriteAllText(remote, $"{{\"mcpServers\":{{\"puo-memo\":{{\"url\":\"http://x\",\"headers\":{{\"Authorization\":\"Bearer {Secret()}\"}}}}}}}}");
        Run(runspace, host, "update: claude remote entry", "Update-PuoClientConfig -Path $p -Confirm:$false", new() { ["p"] = remote });
        Run(runspace, host, "update: claude env reference", "Update-PuoClientConfig -Path $p -UseEnvReference -Confirm:$false", new() { ["p"] = claude });
        var noKey = Path.Combine(_dir, "nokey", ".env");
        WriteEnv(noKey, $"JWT_SECRET={Secret()}\n");
        Run(runspace, host, "update: no API_KEY", "Update-PuoClientConfig -Path $p -EnvFile $f -Confirm:$false", new() { ["p"] = cursor, ["f"] = noKey });
        Run(runspace, host, "update: bad url", "Update-PuoClientConfig -Path $p -Url 'ftp://x' -ApiKey $k", new() { ["p"] = cursor, ["k"] = Secure(Secret()) });
        Run(runspace, host, "update: unknown schema", "Update-PuoClientConfig -Path (Join-Path $d other.json) -Confirm:$false", new() { ["d"] = _dir });
        Run(runspace, host, "update: after rotation", "Reset-PuoApiKey -Confirm:$false | Update-PuoClientConfig -Path $p -Confirm:$false | Format-List *",
            new() { ["p"] = cursor });
        Run(runspace, host, "update: env reference", "Update-PuoClientConfig -Path $p -UseEnvReference -Confirm:$false", new() { ["p"] = cursor });

        // Values the cmdlets generated are secrets too: the current and backed-up .env files hold them all.
        foreach (var file in Directory.EnumerateFiles(_dir, ".env*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".env.example")))
        {
            foreach (var line in File.ReadAllLines(file).Where(l => l.Contains('=') && !l.TrimStart().StartsWith('#')))
            {
                var key = line[..line.IndexOf('=')].Trim();
                var value = line[(line.IndexOf('=') + 1)..].Split(" #")[0].Trim().Trim('"', '\'');
                if (value.Length >= 32 && (key.EndsWith("KEY") || key.EndsWith("SECRET") || key.EndsWith("TOKEN")))
                    _secrets.Add(value);
            }
        }

        var hits = _outputs.SelectMany(o => Hits(o.Text).Select(h => $"{o.Scenario} / {o.What}: {h}")).ToList();
        var scenarios = _outputs.Select(o => o.Scenario).Distinct().Count();
        log.WriteLine($"Leak scan: {scenarios} scenarios, {_outputs.Count} outputs scanned ({_outputs.Sum(o => o.Text.Length):N0} characters), " +
            $"{_secrets.Distinct().Count()} secrets looked for, {hits.Count} hits.");
        Console.WriteLine($"Leak scan: {scenarios} scenarios, {_outputs.Count} outputs scanned, {_secrets.Distinct().Count()} secrets, {hits.Count} hits.");
        Assert.Empty(hits);
        // The scan saw what it should: the What-if and prompt texts, and errors of every kind.
        Assert.Contains(_outputs, o => o.What == "host" && o.Text.Contains("What if:") && o.Text.Contains("JWT_SECRET"));
        Assert.Contains(_outputs, o => o.What == "host" && o.Text.Contains("EVERY user and client is logged out"));
        Assert.Contains(_outputs, o => o.What == "host" && o.Text.Contains("Bearer ********"));
        Assert.Contains(_outputs, o => o.Text.Contains("PuoOps.Secrets.ClientConfigInvalid"));
        Assert.Contains(_outputs, o => o.Text.Contains("PuoOps.File.SymbolicLink"));
        Assert.True(_outputs.Count > 500, $"only {_outputs.Count} outputs were scanned");
    }

    private string Secret()
    {
        var value = Marker + RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 44);
        _secrets.Add(value);
        return value;
    }

    private IEnumerable<string> Hits(string text)
    {
        if (text.Contains(Marker, StringComparison.Ordinal))
            yield return $"the marker {Marker}";
        foreach (var secret in _secrets.Distinct())
        {
            if (text.Contains(secret[..6], StringComparison.Ordinal))
                yield return "the first 6 characters of a secret";
            for (var i = 0; i + 8 <= secret.Length; i++)
            {
                if (text.Contains(secret.Substring(i, 8), StringComparison.Ordinal))
                {
                    yield return $"8 characters of a secret at {i}";
                    break;
                }
            }
        }
    }

    private static void WriteEnv(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static void WithProcessVariable(string name, string value, Action body)
    {
        System.Environment.SetEnvironmentVariable(name, value);
        try
        {
            body();
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(name, null);
        }
    }

    private static SecureString Secure(string value)
    {
        var secure = new SecureString();
        foreach (var c in value)
            secure.AppendChar(c);
        return secure;
    }

    /// <summary>Runs one scenario and records every rendering of everything it produced.</summary>
    private void Run(Runspace runspace, RecordingHost host, string scenario, string script, Dictionary<string, object?>? variables = null)
    {
        host.Clear();
        foreach (var (name, value) in variables ?? [])
            runspace.SessionStateProxy.SetVariable(name, value);
        using var shell = PowerShell.Create();
        shell.Runspace = runspace;
        shell.AddScript(script);
        Collection<PSObject> output;
        var errors = new List<ErrorRecord>();
        try
        {
            output = shell.Invoke();
        }
        catch (RuntimeException ex)
        {
            output = [];
            errors.Add(ex.ErrorRecord);
        }
        errors.AddRange(shell.Streams.Error);
        void Add(string what, string? text) => _outputs.Add((scenario, what, text ?? ""));

        foreach (var item in output.Where(o => o is not null))
        {
            Add("output ToString", item.ToString());
            Add("output Format-List", Render(runspace, "$args[0] | Format-List * -Force | Out-String -Width 250", item));
            Add("output default view", Render(runspace, "$args[0] | Out-String -Width 80", item));
            Add("output JSON", Render(runspace, "$args[0] | ConvertTo-Json -Depth 5 -WarningAction Ignore", item));
        }
        foreach (var error in errors)
        {
            Add("error ToString", error.ToString());
            Add("error id", error.FullyQualifiedErrorId + " " + error.CategoryInfo);
            Add("error exception", error.Exception.ToString());
            Add("error details", error.ErrorDetails?.Message);
            Add("error target", Render(runspace, "$args[0].TargetObject | ConvertTo-Json -Depth 3 -WarningAction Ignore", error));
            Add("error Format-List", Render(runspace, "$args[0] | Format-List * -Force | Out-String -Width 250", error));
            Add("error Get-Error", Render(runspace, "$args[0] | Get-Error | Out-String -Width 250", error));
            Add("error view", Render(runspace, "$args[0] | Out-String -Width 120", error));
        }
        foreach (var record in shell.Streams.Warning.Cast<InformationalRecord>().Concat(shell.Streams.Verbose).Concat(shell.Streams.Debug))
        {
            Add("stream " + record.GetType().Name, record.Message);
            Add("stream Format-List", Render(runspace, "$args[0] | Format-List * -Force | Out-String -Width 250", record));
        }
        foreach (var information in shell.Streams.Information)
            Add("information", $"{information.MessageData} {string.Join(",", information.Tags)} {information.Source}");
        foreach (var progress in shell.Streams.Progress)
            Add("progress", $"{progress.Activity} {progress.StatusDescription} {progress.CurrentOperation} {progress}");
        Add("host", host.Text);
    }

    private static string Render(Runspace runspace, string script, object item)
    {
        using var shell = PowerShell.Create();
        shell.Runspace = runspace;
        shell.AddScript(script).AddArgument(item);
        try
        {
            return string.Join("\n", shell.Invoke().Select(o => o?.ToString()));
        }
        catch (RuntimeException ex)
        {
            return "render failed: " + ex.Message;
        }
    }

    /// <summary>A host that records what it is asked to show (What-if lines, prompts, stream lines) and answers prompts.</summary>
    private sealed class RecordingHost : PSHost, IDisposable
    {
        private readonly RecordingUserInterface _ui = new();

        public int Answer { get => _ui.Answer; set => _ui.Answer = value; }
        public string Text => _ui.Recorded.ToString();
        public void Clear() => _ui.Recorded.Clear();
        public void Dispose() { }

        public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
        public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
        public override Guid InstanceId { get; } = Guid.NewGuid();
        public override string Name => "PuoOpsLeakScan";
        public override PSHostUserInterface UI => _ui;
        public override Version Version => new(1, 0);
        public override void EnterNestedPrompt() => throw new NotSupportedException();
        public override void ExitNestedPrompt() => throw new NotSupportedException();
        public override void NotifyBeginApplication() { }
        public override void NotifyEndApplication() { }
        public override void SetShouldExit(int exitCode) { }
    }

    private sealed class RecordingUserInterface : PSHostUserInterface
    {
        public StringBuilder Recorded { get; } = new();
        public int Answer { get; set; }
        public override PSHostRawUserInterface RawUI { get; } = new RawInterface();

        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) =>
            throw new NotSupportedException("The cmdlets must not prompt for input.");
        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice)
        {
            Recorded.AppendLine($"prompt: {caption} {message} {string.Join("|", choices.Select(c => c.Label + " " + c.HelpMessage))}");
            return Answer;
        }
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) =>
            throw new NotSupportedException();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName,
            PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException();
        public override string ReadLine() => throw new NotSupportedException();
        public override SecureString ReadLineAsSecureString() => throw new NotSupportedException();
        public override void Write(string value) => Recorded.Append(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Recorded.Append(value);
        public override void WriteLine(string value) => Recorded.AppendLine(value);
        public override void WriteErrorLine(string value) => Recorded.AppendLine("error: " + value);
        public override void WriteDebugLine(string message) => Recorded.AppendLine("debug: " + message);
        public override void WriteVerboseLine(string message) => Recorded.AppendLine("verbose: " + message);
        public override void WriteWarningLine(string message) => Recorded.AppendLine("warning: " + message);
        public override void WriteProgress(long sourceId, ProgressRecord record) =>
            Recorded.AppendLine($"progress: {record.Activity} {record.StatusDescription} {record.CurrentOperation}");
        public override void WriteInformation(InformationRecord record) => Recorded.AppendLine("information: " + record.MessageData);
    }

    private sealed class RawInterface : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; }
        public override Size BufferSize { get; set; } = new(120, 3000);
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override ConsoleColor ForegroundColor { get; set; }
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new(120, 3000);
        public override Size MaxWindowSize => new(120, 3000);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get; set; } = new(120, 50);
        public override string WindowTitle { get; set; } = "";
        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => new BufferCell[0, 0];
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException();
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
    }
}
