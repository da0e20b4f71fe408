using System.Management.Automation;
using PuoOps.Engine.Environments;

namespace PuoOps.Commands.Environment;

[Cmdlet(VerbsCommunications.Connect, "PuoEnvironment", DefaultParameterSetName = "Url")]
[OutputType(typeof(PuoEnvironment))]
public sealed class ConnectPuoEnvironmentCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = EnvironmentSettings.DefaultName;

    [Parameter(ParameterSetName = "Url")]
    [ValidateNotNullOrEmpty]
    public string? DatabaseUrl { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = "ConnectionString")]
    [ValidateNotNullOrEmpty]
    public string? PostgresConnectionString { get; set; }

    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? RedisConnectionString { get; set; }

    /// <summary>A folder with ca.pem, cert.pem and key.pem: verify a TLS Redis against ca.pem and present this client certificate.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? RedisCertPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DockerHost { get; set; }

    /// <summary>A folder with ca.pem, cert.pem and key.pem: speak TLS to a tcp:// Docker host and verify it.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DockerCertPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ApiUrl { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? McpUrl { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ComposeProject { get; set; }

    /// <summary>The stack's .env file, for the secrets cmdlets.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? EnvFile { get; set; }

    /// <summary>Make this environment the default even though another one is connected.</summary>
    [Parameter]
    public SwitchParameter Default { get; set; }

    /// <summary>Deprecated: an environment becomes the default only when it is the first, or with -Default.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NginxConfig { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NginxPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BlockListFile { get; set; }

    /// <summary>The include holding the active colour's upstream (default: puo-traffic.conf beside nginx.conf).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? TrafficFile { get; set; }

    /// <summary>The upstream block of the traffic file (default puo_active).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Upstream { get; set; }

    /// <summary>Each colour's backends: @{ blue = '127.0.0.1:18081','127.0.0.1:18082'; green = '127.0.0.1:18091' }.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public System.Collections.Hashtable? Color { get; set; }

    [Parameter]
    public SwitchParameter NoDefault { get; set; }

    [Parameter]
    public SwitchParameter SkipCheck { get; set; }

    /// <summary>Only look: every cmdlet that changes state refuses to act against this environment, even with -Confirm:$false.</summary>
    [Parameter]
    public SwitchParameter ReadOnly { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var settings = new EnvironmentSettings
        {
            Name = Name,
            DatabaseUrl = DatabaseUrl,
            PostgresConnectionString = PostgresConnectionString,
            PostgresCredential = Credential?.GetNetworkCredential(),
            RedisConnectionString = RedisConnectionString,
            RedisCertPath = RedisCertPath is null ? null : GetUnresolvedProviderPathFromPSPath(RedisCertPath),
            DockerHost = DockerHost,
            DockerCertPath = DockerCertPath is null ? null : GetUnresolvedProviderPathFromPSPath(DockerCertPath),
            ApiUrl = ApiUrl,
            McpUrl = McpUrl,
            ComposeProject = ComposeProject,
            NginxConfig = FullPath(NginxConfig),
            NginxPath = FullPath(NginxPath),
            BlockListFile = FullPath(BlockListFile),
            TrafficFile = FullPath(TrafficFile),
            Upstream = Upstream,
            Colors = Colors(Color),
            EnvFile = FullPath(EnvFile),
            ReadOnly = ReadOnly,
        };
        if (Default && NoDefault)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Environment.DefaultConflict",
                "-Default and -NoDefault contradict each other; give -Default to make the environment the default.", Name));
        PuoEnvironment created;
        try
        {
            created = PuoEnvironment.Create(settings, Environment);
        }
        catch (PuoException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex, Name));
            return;
        }
        WriteVerbose($"Environment '{created.Name}': PostgreSQL {created.Postgres ?? "(none)"}, Redis {created.Redis ?? "(none)"}, Docker {created.DockerHost}.");
        if (!SkipCheck)
        {
            // Checked before it is registered: an environment whose server refused us must not become what later cmdlets use.
            WriteSecurityWarnings(created);
            var context = new Engine.OperationContext(created, TimeSpan.FromSeconds(TimeoutSec), StopToken);
            var failures = Await(EnvironmentService.CheckAsync(context));
            if (failures.Count > 0)
            {
                foreach (var failure in failures)
                {
                    var record = ErrorRecords.From(Engine.ErrorTranslator.Translate(failure, created), created.Name);
                    record.ErrorDetails = new ErrorDetails($"{record.Exception.Message} Environment '{created.Name}' was not registered; fix this, or add -SkipCheck to register it unchecked.");
                    WriteError(record);
                }
                created.Dispose();
                return;
            }
        }
        var environment = SessionEnvironments.Current.Register(created, makeDefault: Default);
        WriteVerbose(environment.IsDefault
            ? $"'{environment.Name}' is the default environment: cmdlets without -Environment use it."
            : $"'{environment.Name}' is registered; the default is unchanged. Cmdlets use it only with -Environment {environment.Name} (or connect it with -Default).");
        if (PassThru)
            WriteObject(environment);
    }

    /// <summary>-Color as colour -> backends; each value a string or a list of strings.</summary>
    private static Dictionary<string, IReadOnlyList<string>>? Colors(System.Collections.Hashtable? table)
    {
        if (table is null)
            return null;
        var colors = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry entry in table)
        {
            var value = entry.Value is PSObject wrapped ? wrapped.BaseObject : entry.Value;
            colors[LanguagePrimitives.ConvertTo<string>(entry.Key)] = value is string one
                ? [one]
                : LanguagePrimitives.GetEnumerable(value)?.Cast<object>().Select(LanguagePrimitives.ConvertTo<string>).ToList() ?? [];
        }
        return colors;
    }

    /// <summary>A path relative to PowerShell's current location (not the process's), made absolute.</summary>
    private string? FullPath(string? path) => path is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
}
