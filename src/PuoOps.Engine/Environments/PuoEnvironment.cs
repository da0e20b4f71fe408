using System.Collections.Concurrent;
using PuoOps.Engine.Docker;
using PuoOps.Engine.Environments;
using PuoOps.Engine.Http;
using PuoOps.Engine.Postgres;
using PuoOps.Engine.Redis;

namespace PuoOps;

/// <summary>
/// A named set of connection settings for one PUO Memo stack, with the session's pooled clients
/// (PostgreSQL data source, Redis multiplexer, Docker client) created on first use and released by
/// <see cref="Dispose"/>. Its public surface carries no secret: passwords stay in internal members.
/// </summary>
public sealed class PuoEnvironment : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<object>>> _clients = new();
    private int _disposed;
    private List<string>? _securityWarnings;

    private PuoEnvironment(EnvironmentSettings settings, string name, PostgresEndpoint? postgres, RedisEndpoint? redis, string dockerHost,
        Uri apiUrl, Uri mcpUrl, string composeProject)
    {
        Settings = settings;
        Name = name;
        PostgresEndpoint = postgres;
        RedisEndpoint = redis;
        DockerHost = dockerHost;
        ApiUrl = apiUrl;
        McpUrl = mcpUrl;
        ComposeProject = composeProject;
        Created = DateTimeOffset.Now;
    }

    public string Name { get; }

    /// <summary>user@host:port/database, no password.</summary>
    public string? Postgres => PostgresEndpoint?.DisplayName;

    /// <summary>host:port/db, no password.</summary>
    public string? Redis => RedisEndpoint?.DisplayName;

    public string DockerHost { get; }
    public Uri ApiUrl { get; }
    public Uri McpUrl { get; }
    public string ComposeProject { get; }

    /// <summary>The running nginx's main configuration file; null: the one nginx was built with.</summary>
    public string? NginxConfig => Settings.NginxConfig;

    /// <summary>The nginx program; null: nginx from PATH.</summary>
    public string? NginxPath => Settings.NginxPath;

    /// <summary>The deny list nginx includes; null: puo-blocklist.conf beside nginx.conf.</summary>
    public string? BlockListFile => Settings.BlockListFile;

    /// <summary>The include naming the active colour's backends; null: puo-traffic.conf beside nginx.conf.</summary>
    public string? TrafficFile => Settings.TrafficFile;

    /// <summary>The upstream block the traffic file holds and nginx proxies to.</summary>
    public string Upstream => Settings.Upstream!;

    /// <summary>Each colour's backends as given to Connect-PuoEnvironment -Color; null: discovered from Swarm (label puo.color).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Colors => Settings.Colors;

    /// <summary>The stack's .env file, read and rewritten by the secrets cmdlets; null means .env in the current folder.</summary>
    public string? EnvFile => Settings.EnvFile;

    public DateTimeOffset Created { get; }

    /// <summary>Connected with -ReadOnly: cmdlets that change state refuse to act against it.</summary>
    public bool ReadOnly => Settings.ReadOnly;

    /// <summary>True for the environment cmdlets use when -Environment is not given.</summary>
    public bool IsDefault => Registry?.IsDefault(this) == true;

    /// <summary>The session registry it was connected in.</summary>
    internal EnvironmentRegistry? Registry { get; set; }

    /// <summary>What the environment was made from, so Connect-PuoEnvironment can derive one from it.</summary>
    internal EnvironmentSettings Settings { get; }
    internal PostgresEndpoint? PostgresEndpoint { get; }
    internal RedisEndpoint? RedisEndpoint { get; }
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>The TLS settings of the Docker endpoint: the folder of its certificates, or null for none.</summary>
    internal string? DockerCertPath => Settings.DockerCertPath;

    /// <summary>
    /// What is insecure about reaching this environment (a remote server without TLS, or without a certificate
    /// check), handed out once: the first cmdlet to use the environment warns, later ones do not repeat it.
    /// </summary>
    public IReadOnlyList<string> TakeSecurityWarnings() => Interlocked.Exchange(ref _securityWarnings, null) ?? [];

    public override string ToString() => Name;

    /// <summary>
    /// Validates the settings (InvalidArgument on a malformed URL or string, or a scheme its client cannot speak)
    /// and builds the environment. What the settings leave null comes from <paramref name="basedOn"/> (if given),
    /// then the stack's defaults; never from the process environment variables.
    /// </summary>
    public static PuoEnvironment Create(EnvironmentSettings settings, PuoEnvironment? basedOn = null) =>
        Build((basedOn is null ? settings : settings.FillFrom(basedOn.Settings)).WithDefaults(readProcessVariables: false));

    /// <summary>The implicit default environment of a session where nothing was connected: built from the process environment variables.</summary>
    public static PuoEnvironment CreateImplicit() => Build(new EnvironmentSettings().WithDefaults(readProcessVariables: true));

    private static PuoEnvironment Build(EnvironmentSettings s)
    {
        if (string.IsNullOrWhiteSpace(s.Name))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Environment.Name", "An environment needs a non-empty name.");
        Engine.Deployment.Colors.Validate(s.Colors, s.Upstream);
        var postgres = PostgresEndpoint.From(s.PostgresConnectionString, s.DatabaseUrl, s.PostgresCredential);
        var redis = s.RedisConnectionString is null ? null : RedisEndpoint.Parse(s.RedisConnectionString, s.RedisCertPath);
        var docker = DockerConnections.Endpoint(s.DockerHost!, s.DockerCertPath); // refuses what the client cannot speak now, not at first use
        var environment = new PuoEnvironment(s, s.Name.Trim(), postgres, redis, s.DockerHost!,
            ParseHttpUrl(s.ApiUrl!, "ApiUrl"), ParseHttpUrl(s.McpUrl!, "McpUrl"), s.ComposeProject!);
        environment._securityWarnings = new[] { postgres?.SecurityWarning, redis?.SecurityWarning, docker.SecurityWarning }.OfType<string>().ToList();
        return environment;
    }

    private static Uri ParseHttpUrl(string value, string what) => HttpUrl.Parse(value, "PuoOps.Environment." + what, what);

    /// <summary>
    /// The environment's one client of a kind (e.g. "redis"), created once by <paramref name="create"/>.
    /// A failed creation is forgotten, so the next call tries again instead of caching the failure.
    /// </summary>
    internal async Task<T> GetClientAsync<T>(string kind, Func<Task<T>> create) where T : class
    {
        if (IsDisposed)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Environment.Disconnected",
                $"Environment '{Name}' was disconnected. Connect-PuoEnvironment it again.", Name);
        var lazy = _clients.GetOrAdd(kind, _ => new Lazy<Task<object>>(async () => await create().ConfigureAwait(false)));
        try
        {
            return (T)await lazy.Value.ConfigureAwait(false);
        }
        catch
        {
            _clients.TryRemove(new KeyValuePair<string, Lazy<Task<object>>>(kind, lazy));
            throw;
        }
    }

    /// <summary>Releases the pooled clients. Safe to call twice.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        foreach (var lazy in _clients.Values)
        {
            if (!lazy.IsValueCreated || !lazy.Value.IsCompletedSuccessfully)
                continue;
            switch (lazy.Value.Result)
            {
                case IAsyncDisposable asyncDisposable: asyncDisposable.DisposeAsync().AsTask().GetAwaiter().GetResult(); break;
                case IDisposable disposable: disposable.Dispose(); break;
            }
        }
        _clients.Clear();
    }
}
