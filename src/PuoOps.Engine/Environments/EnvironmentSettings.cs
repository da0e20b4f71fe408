using System.Net;

namespace PuoOps.Engine.Environments;

/// <summary>
/// What an operator says about an environment. Anything left null falls back to the stack's defaults; only the
/// implicit default environment (nothing connected yet) reads the process environment variables the PUO Memo
/// stack itself uses (DATABASE_URL, REDIS_URL, DOCKER_HOST, PUO_API_URL, PUO_MCP_URL, COMPOSE_PROJECT_NAME, PUO_ENV_FILE), so a
/// named environment never reaches a server it did not name.
/// </summary>
public sealed class EnvironmentSettings
{
    public const string DefaultName = "default";
    public const string DefaultApiUrl = "http://localhost:8000";
    public const string DefaultMcpUrl = "http://localhost:3000";
    public const string DefaultComposeProject = "puo-memo";
    public const string DefaultUpstream = "puo_active";

    public string Name { get; set; } = DefaultName;

    /// <summary>An Npgsql connection string (Host=...;Database=...).</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>A postgres:// or postgresql:// URI, as in DATABASE_URL.</summary>
    public string? DatabaseUrl { get; set; }

    /// <summary>Overrides the user name and password of the PostgreSQL connection.</summary>
    public NetworkCredential? PostgresCredential { get; set; }

    /// <summary>A StackExchange.Redis configuration string or a redis:// / rediss:// URI.</summary>
    public string? RedisConnectionString { get; set; }

    /// <summary>
    /// A folder with ca.pem, cert.pem and key.pem (the layout of <see cref="DockerCertPath"/>): Redis over TLS then
    /// verifies the server against ca.pem and presents this client certificate.
    /// </summary>
    public string? RedisCertPath { get; set; }

    public string? DockerHost { get; set; }

    /// <summary>
    /// A folder with ca.pem, cert.pem and key.pem (as DOCKER_CERT_PATH): the Docker API is then spoken over TLS,
    /// with this client certificate, to a daemon whose certificate ca.pem signed (as DOCKER_TLS_VERIFY=1).
    /// </summary>
    public string? DockerCertPath { get; set; }
    public string? ApiUrl { get; set; }
    public string? McpUrl { get; set; }
    public string? ComposeProject { get; set; }

    /// <summary>The running nginx's main configuration file; null: the one nginx was built with (the implicit default reads PUO_NGINX_CONF).</summary>
    public string? NginxConfig { get; set; }

    /// <summary>The nginx program; null: nginx from PATH.</summary>
    public string? NginxPath { get; set; }

    /// <summary>The deny list nginx includes; null: puo-blocklist.conf beside nginx.conf (the implicit default reads PUO_BLOCKLIST_FILE).</summary>
    public string? BlockListFile { get; set; }
    /// <summary>The stack's .env file (API_KEY, JWT_SECRET, ...), for the secrets cmdlets; null: .env in the current folder.</summary>
    public string? EnvFile { get; set; }

    /// <summary>Only look: every cmdlet that changes state refuses to act against the environment (on-call sessions).</summary>
    public bool ReadOnly { get; set; }

    /// <summary>The include holding the active colour's upstream; null: puo-traffic.conf beside nginx.conf (the implicit default reads PUO_TRAFFIC_FILE).</summary>
    public string? TrafficFile { get; set; }

    /// <summary>The name of the upstream block in the traffic file; null: puo_active.</summary>
    public string? Upstream { get; set; }

    /// <summary>Each colour's backends (host:port); null: discovered from Swarm services labelled puo.color.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Colors { get; set; }

    /// <summary>A copy whose null settings are taken from <paramref name="other"/>; a new server replaces its credential.</summary>
    internal EnvironmentSettings FillFrom(EnvironmentSettings other)
    {
        var copy = (EnvironmentSettings)MemberwiseClone();
        if (copy.PostgresConnectionString is null && copy.DatabaseUrl is null)
        {
            copy.PostgresConnectionString = other.PostgresConnectionString;
            copy.DatabaseUrl = other.DatabaseUrl;
            copy.PostgresCredential ??= other.PostgresCredential;
        }
        if (copy.RedisConnectionString is null)
        {
            copy.RedisConnectionString = other.RedisConnectionString;
            copy.RedisCertPath ??= other.RedisCertPath;
        }
        if (copy.DockerHost is null)
        {
            copy.DockerHost = other.DockerHost;
            copy.DockerCertPath ??= other.DockerCertPath;
        }
        copy.ApiUrl ??= other.ApiUrl;
        copy.McpUrl ??= other.McpUrl;
        copy.ComposeProject ??= other.ComposeProject;
        copy.NginxConfig ??= other.NginxConfig;
        copy.NginxPath ??= other.NginxPath;
        copy.BlockListFile ??= other.BlockListFile;
        copy.TrafficFile ??= other.TrafficFile;
        copy.Upstream ??= other.Upstream;
        copy.Colors ??= other.Colors;
        copy.EnvFile ??= other.EnvFile;
        // An environment made from a read-only one stays read-only: deriving must not be a way around it.
        copy.ReadOnly |= other.ReadOnly;
        return copy;
    }

    /// <summary>
    /// Fills what is still null from the stack's defaults and, with <paramref name="readProcessVariables"/> (the
    /// implicit default environment only), first from the process environment variables.
    /// </summary>
    public EnvironmentSettings WithDefaults(bool readProcessVariables)
    {
        string? Var(string name) => readProcessVariables && System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

        var filled = (EnvironmentSettings)MemberwiseClone();
        if (filled.PostgresConnectionString is null && filled.DatabaseUrl is null)
            filled.DatabaseUrl = Var("DATABASE_URL");
        filled.RedisConnectionString ??= Var("REDIS_URL");
        if (filled.DockerHost is null && Var("DOCKER_HOST") is { } dockerHost)
        {
            filled.DockerHost = dockerHost;
            // As the docker CLI: any DOCKER_TLS_VERIFY means TLS with a verified daemon, certificates from DOCKER_CERT_PATH or ~/.docker.
            if (Var("DOCKER_TLS_VERIFY") is not null)
                filled.DockerCertPath ??= Var("DOCKER_CERT_PATH") ?? Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".docker");
        }
        filled.DockerHost ??= "unix:///var/run/docker.sock";
        filled.ApiUrl ??= Var("PUO_API_URL") ?? DefaultApiUrl;
        filled.McpUrl ??= Var("PUO_MCP_URL") ?? DefaultMcpUrl;
        filled.ComposeProject ??= Var("COMPOSE_PROJECT_NAME") ?? DefaultComposeProject;
        filled.NginxConfig ??= Var("PUO_NGINX_CONF");
        filled.BlockListFile ??= Var("PUO_BLOCKLIST_FILE");
        filled.TrafficFile ??= Var("PUO_TRAFFIC_FILE");
        filled.Upstream ??= DefaultUpstream;
        filled.EnvFile ??= Var("PUO_ENV_FILE");
        return filled;
    }
}
