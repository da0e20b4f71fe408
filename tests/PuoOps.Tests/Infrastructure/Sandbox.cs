using System.Text.Json;

namespace PuoOps.Tests.Infrastructure;

/// <summary>
/// The sandbox stack started by tests/Sandbox/Sandbox.ps1 (build.ps1 -Task Test does it and sets
/// PUO_SANDBOX_STATE). Tests read ports and passwords from its state file.
/// </summary>
public sealed class Sandbox
{
    private static readonly Lazy<Sandbox> Instance = new(Load);

    public static Sandbox Current => Instance.Value;

    public required JsonElement State { get; init; }

    public string PostgresConnectionString => State.GetProperty("Postgres").GetProperty("ConnectionString").GetString()!;
    public string PostgresUrl => State.GetProperty("Postgres").GetProperty("Url").GetString()!;
    public string PostgresPassword => State.GetProperty("Postgres").GetProperty("Password").GetString()!;
    public int PostgresPort => State.GetProperty("Postgres").GetProperty("Port").GetInt32();
    /// <summary>The server's bin folder the sandbox found (/usr/lib/postgresql/&lt;major&gt;/bin): pg_dump, pg_restore, psql of its version.</summary>
    public string PostgresBinDir => State.GetProperty("Postgres").GetProperty("BinDir").GetString()!;
    public int PostgresMajor => int.Parse(Path.GetFileName(Path.GetDirectoryName(PostgresBinDir.TrimEnd('/')))!);
    public string RedisConnectionString => State.GetProperty("Redis").GetProperty("ConnectionString").GetString()!;
    public string RedisPassword => State.GetProperty("Redis").GetProperty("Password").GetString()!;
    /// <summary>The API stand-in (tests/StandIn), e.g. http://127.0.0.1:40119; POST {ApiUrl}/_standin?... changes how it answers. Null without Nginx.</summary>
    public string? ApiUrl => Url("Api");
    public string? McpUrl => Url("Mcp");
    // Docker is null in the state of a sandbox started with -Services Postgres,Redis.
    public bool DockerAvailable => State.TryGetProperty("Docker", out var d) && d.ValueKind == JsonValueKind.Object && d.GetProperty("Available").GetBoolean();
    public string? DockerHost => State.TryGetProperty("Docker", out var d) && d.ValueKind == JsonValueKind.Object ? d.GetProperty("Host").GetString() : null;

    private string? Url(string service) =>
        State.TryGetProperty(service, out var s) && s.ValueKind == JsonValueKind.Object ? s.GetProperty("Url").GetString() : null;

    private static Sandbox Load()
    {
        var path = System.Environment.GetEnvironmentVariable("PUO_SANDBOX_STATE");
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
            throw new InvalidOperationException(
                "PUO_SANDBOX_STATE does not name a sandbox state file. Run the tests with 'dotnet pwsh ./build.ps1 -Task Test', " +
                "or start one with tests/Sandbox/Sandbox.ps1 -Action Start and set PUO_SANDBOX_STATE.");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return new Sandbox { State = document.RootElement.Clone() };
    }
}
