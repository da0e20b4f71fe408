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

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DockerHost { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ApiUrl { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? McpUrl { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ComposeProject { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? EnvFile { get; set; }

    [Parameter]
    public SwitchParameter NoDefault { get; set; }

    [Parameter]
    public SwitchParameter SkipCheck { get; set; }

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
            DockerHost = DockerHost,
            ApiUrl = ApiUrl,
            McpUrl = McpUrl,
            ComposeProject = ComposeProject,
            EnvFile = EnvFile is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(EnvFile),
        };
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
        var environment = SessionEnvironments.Current.Register(created, makeDefault: !NoDefault);
        WriteVerbose($"Environment '{environment.Name}': PostgreSQL {environment.Postgres ?? "(none)"}, Redis {environment.Redis ?? "(none)"}, Docker {environment.DockerHost}.");
        if (!SkipCheck)
        {
            var context = new Engine.OperationContext(environment, TimeSpan.FromSeconds(TimeoutSec), Stopping);
            foreach (var failure in Await(EnvironmentService.CheckAsync(context)))
                WriteError(ErrorRecords.From(Engine.ErrorTranslator.Translate(failure, environment), environment.Name));
        }
        if (PassThru)
            WriteObject(environment);
    }
}
