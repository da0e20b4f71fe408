using System.Net;

namespace PuoOps.Engine.Environments;

/// <summary>
/// What an operator says about an environment. Anything left null falls back to the process
/// environment variables the PUO Memo stack itself uses (DATABASE_URL, REDIS_URL, DOCKER_HOST,
/// PUO_API_URL, PUO_MCP_URL, COMPOSE_PROJECT_NAME, PUO_ENV_FILE).
/// </summary>
public sealed class EnvironmentSettings
{
    public const string DefaultName = "default";
    public const string DefaultApiUrl = "http://localhost:8000";
    public const string DefaultMcpUrl = "http://localhost:3000";
    public const string DefaultComposeProject = "puo-memo";

    public string Name { get; set; } = DefaultName;

    /// <summary>An Npgsql connection string (Host=...;Database=...).</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>A postgres:// or postgresql:// URI, as in DATABASE_URL.</summary>
    public string? DatabaseUrl { get; set; }

    /// <summary>Overrides the user name and password of the PostgreSQL connection.</summary>
    public NetworkCredential? PostgresCredential { get; set; }

    /// <summary>A StackExchange.Redis configuration string or a redis:// / rediss:// URI.</summary>
    public string? RedisConnectionString { get; set; }

    public string? DockerHost { get; set; }
    public string? ApiUrl { get; set; }
    public string? McpUrl { get; set; }
    public string? ComposeProject { get; set; }

    /// <summary>The stack's .env file (API_KEY, JWT_SECRET, ...), for the secrets cmdlets; null: .env in the current folder.</summary>
    public string? EnvFile { get; set; }

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
        copy.RedisConnectionString ??= other.RedisConnectionString;
        copy.DockerHost ??= other.DockerHost;
        copy.ApiUrl ??= other.ApiUrl;
        copy.McpUrl ??= other.McpUrl;
        copy.ComposeProject ??= other.ComposeProject;
        copy.EnvFile ??= other.EnvFile;
        return copy;
    }

    /// <summary>Fills what is still null from the process environment and the stack's defaults.</summary>
    public EnvironmentSettings WithProcessDefaults()
    {
        static string? Var(string name) => System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

        var filled = (EnvironmentSettings)MemberwiseClone();
        if (filled.PostgresConnectionString is null && filled.DatabaseUrl is null)
            filled.DatabaseUrl = Var("DATABASE_URL");
        filled.RedisConnectionString ??= Var("REDIS_URL");
        filled.DockerHost ??= Var("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
        filled.ApiUrl ??= Var("PUO_API_URL") ?? DefaultApiUrl;
        filled.McpUrl ??= Var("PUO_MCP_URL") ?? DefaultMcpUrl;
        filled.ComposeProject ??= Var("COMPOSE_PROJECT_NAME") ?? DefaultComposeProject;
        filled.EnvFile ??= Var("PUO_ENV_FILE");
        return filled;
    }
}
