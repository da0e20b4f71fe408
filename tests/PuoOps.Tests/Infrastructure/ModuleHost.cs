using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace PuoOps.Tests.Infrastructure;

/// <summary>
/// The BUILT module (PUO_MODULE_PATH, laid out by build.ps1) imported into an in-process runspace whose
/// default environment is the sandbox, so tests exercise cmdlets exactly as an operator would.
/// </summary>
public sealed class ModuleHost : IDisposable
{
    private readonly Runspace _runspace;

    public ModuleHost(bool connectSandbox = true)
    {
        var modulePath = System.Environment.GetEnvironmentVariable("PUO_MODULE_PATH");
        if (string.IsNullOrEmpty(modulePath) || !Directory.Exists(modulePath))
            throw new InvalidOperationException("PUO_MODULE_PATH does not name the built module; run build.ps1 -Task Test.");
        var state = InitialSessionState.CreateDefault2();
        state.ImportPSModule(Path.Combine(modulePath, "PuoOps.psd1"));
        _runspace = RunspaceFactory.CreateRunspace(state);
        _runspace.Open();
        if (connectSandbox)
        {
            Invoke("""
                $http = @{}
                if ($api) { $http.ApiUrl = $api; $http.McpUrl = $mcp }
                Connect-PuoEnvironment -Name $name -PostgresConnectionString $pg -RedisConnectionString $redis -DockerHost $docker @http -SkipCheck
                """,
                new Dictionary<string, object?>
                {
                    ["name"] = EnvironmentName,
                    ["pg"] = Sandbox.Current.PostgresConnectionString,
                    ["redis"] = Sandbox.Current.RedisConnectionString,
                    ["docker"] = Sandbox.Current.DockerHost ?? "unix:///nonexistent.sock",
                    ["api"] = Sandbox.Current.ApiUrl,
                    ["mcp"] = Sandbox.Current.McpUrl,
                }).ThrowIfFailed();
        }
    }

    /// <summary>The sandbox environment, this runspace's default (each runspace has its own environments).</summary>
    public string EnvironmentName { get; } = "host-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Runs a script; variables are set first. Errors are collected, not thrown.</summary>
    public Result Invoke(string script, IDictionary<string, object?>? variables = null)
    {
        using var shell = PowerShell.Create();
        shell.Runspace = _runspace;
        foreach (var (name, value) in variables ?? new Dictionary<string, object?>())
            _runspace.SessionStateProxy.SetVariable(name, value);
        shell.AddScript(script);
        var output = shell.Invoke();
        return new Result(output, shell.Streams.Error.ReadAll(), shell.Streams.Verbose.ReadAll().Select(v => v.Message).ToList(),
            shell.Streams.Warning.ReadAll().Select(w => w.Message).ToList());
    }

    /// <summary>Starts a script without waiting, for Ctrl+C tests (PowerShell.Stop is what Ctrl+C calls).</summary>
    public (PowerShell Shell, IAsyncResult Pending) Start(string script)
    {
        var shell = PowerShell.Create();
        shell.Runspace = _runspace;
        shell.AddScript(script);
        return (shell, shell.BeginInvoke());
    }

    public void Dispose()
    {
        Invoke("Get-PuoEnvironment -Name $n -ErrorAction Ignore | Disconnect-PuoEnvironment -Confirm:$false",
            new Dictionary<string, object?> { ["n"] = EnvironmentName });
        _runspace.Dispose();
    }

    public sealed record Result(Collection<PSObject> Output, Collection<ErrorRecord> Errors, List<string> Verbose, List<string> Warnings)
    {
        public Result ThrowIfFailed()
        {
            if (Errors.Count > 0)
                throw new InvalidOperationException("The script failed: " + string.Join(Environment.NewLine, Errors.Select(e => e.ToString())));
            return this;
        }

        /// <summary>Everything the script showed an operator, for "no secret ever printed" checks.</summary>
        public string AllText => string.Join("\n", Output.Select(o => o?.ToString()).Concat(Errors.Select(e => e + " " + e.Exception))
            .Concat(Verbose).Concat(Warnings));
    }
}
