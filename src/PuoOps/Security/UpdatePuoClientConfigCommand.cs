using System.Management.Automation;
using System.Net;
using System.Security;
using PuoOps.Engine;
using PuoOps.Engine.Secrets;

namespace PuoOps.Commands.Security;

/// <summary>
/// Writes the PUO Memo MCP server entry (URL and API key) into Claude Desktop's and Cursor's config files: the runbook's
/// update_claude_config.py and update_cursor_config.py. The key comes from -ApiKey, else from API_KEY in the .env file.
/// </summary>
[Cmdlet(VerbsData.Update, "PuoClientConfig", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(ClientConfigChange))]
public sealed class UpdatePuoClientConfigCommand : EnvFileCommandBase
{
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);

    /// <summary>Which clients; default: each whose config folder exists on this machine.</summary>
    [Parameter(Position = 0)]
    public McpClient[]? Client { get; set; }

    /// <summary>Any config file instead of the client's default one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>A project folder: Cursor's &lt;project&gt;/.cursor/mcp.json instead of ~/.cursor/mcp.json.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ProjectPath { get; set; }

    /// <summary>The key under mcpServers.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ServerName { get; set; } = "puo-memo";

    /// <summary>The MCP server's URL; a new entry without it gets the environment's McpUrl, an existing one keeps its own.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Url { get; set; }

    /// <summary>The key to write; default API_KEY from the .env file.</summary>
    [Parameter]
    public SecureString? ApiKey { get; set; }

    /// <summary>Cursor only: write ${env:API_KEY}, which Cursor expands from its environment, instead of the key.</summary>
    [Parameter]
    public SwitchParameter UseEnvReference { get; set; }

    protected override void Begin()
    {
        if (Url is not null && !(Uri.TryCreate(Url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.InvalidUrl", $"-Url '{Url}' is not an absolute http:// or https:// URL.", Url);
        if ((Path ?? ProjectPath) is not null && Client is { Length: > 1 })
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.OneClientPerPath",
                "-Path and -ProjectPath name one file: give at most one -Client with them.", Client);
        if (ProjectPath is not null && Client is [McpClient.ClaudeDesktop])
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.ProjectPathIsCursor",
                "-ProjectPath is Cursor's (<project>/.cursor/mcp.json); Claude Desktop has one config per user.", ProjectPath);
    }

    protected override void Process()
    {
        var targets = Targets();
        var update = new ClientEntryUpdate(ServerName, Url, CurrentEnvironment.McpUrl.OriginalString, UseEnvReference ? null : Key(), UseEnvReference);
        ForEachItem(targets, target =>
        {
            var (client, path) = target;
            if (!_done.Add(path))
                return;
            var existing = File.Exists(path) ? File.ReadAllBytes(path) : null;
            var plan = McpClientConfig.Plan(client, path, existing, update);
            var advice = McpClientConfig.RestartAdvice(client);
            if (plan.Content is null)
            {
                WriteObject(new ClientConfigChange
                {
                    Client = client, Path = path, ServerName = ServerName, Action = plan.Action,
                    Message = $"mcpServers.{ServerName} already has this URL and key; nothing written.",
                });
                return;
            }
            var what = existing is null ? $"Create the file with mcpServers.{ServerName}" : $"{plan.Action} mcpServers.{ServerName}";
            if (!ShouldProcess(path, $"{what}: {string.Join("; ", plan.Changes)}. Then: {advice}"))
                return;
            var backup = McpClientConfig.Write(path, plan.Content, DateTimeOffset.Now);
            WriteObject(new ClientConfigChange
            {
                Client = client, Path = path, ServerName = ServerName, Action = plan.Action, Changes = [.. plan.Changes],
                BackupPath = backup, RestartRequired = true, Message = advice,
            });
        });
    }

    /// <summary>The (client, file) pairs to update: -Path, -ProjectPath, or each client's default file.</summary>
    private List<(McpClient Client, string Path)> Targets()
    {
        if (Path is not null)
        {
            var path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            var client = Client is [var one] ? one : SchemaOf(path);
            return [(client, path)];
        }
        var locations = ClientLocations.OfThisMachine();
        if (ProjectPath is not null)
            return [(McpClient.Cursor, locations.ConfigPath(McpClient.Cursor, SessionState.Path.GetUnresolvedProviderPathFromPSPath(ProjectPath)))];
        if (Client is not null)
            return Client.Distinct().Select(c => (c, locations.ConfigPath(c))).ToList();
        // Not named: the clients installed here, i.e. whose config folder exists.
        var found = Enum.GetValues<McpClient>().Select(c => (Client: c, Path: locations.ConfigPath(c)))
            .Where(t => Directory.Exists(System.IO.Path.GetDirectoryName(t.Path))).ToList();
        if (found.Count == 0)
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Secrets.NoClientFound",
                $"Neither Claude Desktop ({locations.ConfigPath(McpClient.ClaudeDesktop)}) nor Cursor ({locations.ConfigPath(McpClient.Cursor)}) " +
                "has a config folder here. Name one with -Client to create its file, or give -Path.");
        return found;
    }

    private static McpClient SchemaOf(string path) => System.IO.Path.GetFileName(path) switch
    {
        ClientLocations.ClaudeFileName => McpClient.ClaudeDesktop,
        ClientLocations.CursorFileName => McpClient.Cursor,
        _ => throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.WhichClient",
            $"Which client's schema does {path} follow? Add -Client ClaudeDesktop or -Client Cursor.", path),
    };

    /// <summary>-ApiKey, else API_KEY from the .env file.</summary>
    private string Key()
    {
        if (ApiKey is not null)
            return new NetworkCredential("", ApiKey).Password;
        var path = EnvFilePath;
        if (DotEnvFile.Read(path).TryGetValue(ApiKeyRotationService.ApiKey, out var key) && key.Length > 0)
            return key;
        throw new PuoException(ErrorKind.NotFound, "PuoOps.Secrets.NoApiKey",
            $"{path} has no API_KEY value to write. Give -ApiKey (a SecureString), or -UseEnvReference for Cursor.", path);
    }
}
