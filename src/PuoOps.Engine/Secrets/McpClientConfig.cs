using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PuoOps.Engine.Secrets;

/// <summary>What Update-PuoClientConfig puts into the server entry. <see cref="Url"/> is the one the operator gave.</summary>
/// <param name="Url">Replaces the entry's URL; null keeps it (a new entry then gets <paramref name="DefaultUrl"/>).</param>
/// <param name="ApiKey">The key itself; null with <paramref name="UseEnvReference"/>, which writes ${env:API_KEY} instead.</param>
public sealed record ClientEntryUpdate(string ServerName, string? Url, string DefaultUrl, string? ApiKey, bool UseEnvReference);

/// <summary>The file's new bytes (null when nothing changes), Added/Updated/Unchanged, and each change with the key masked.</summary>
public sealed record ClientConfigPlan(byte[]? Content, string Action, IReadOnlyList<string> Changes);

/// <summary>
/// Edits the MCP server entry (<c>mcpServers.&lt;name&gt;</c>) of a Claude Desktop or Cursor config file. Only the entry's
/// bytes are replaced (or a new member inserted): every other server, top-level key, spacing and line ending stays as it
/// was, and what is written follows the file's own indentation. A file that is not strict JSON is refused untouched.
/// Schemas: Claude Desktop runs local servers only (<c>command</c>/<c>args</c>/<c>env</c>); a new entry is the
/// <c>mcp-remote</c> bridge to the URL with the key in <c>env.AUTH_HEADER</c>. Cursor also takes remote servers
/// (<c>url</c>/<c>headers</c>, the key as <c>Authorization: Bearer</c>, as the MCP authorization spec has it) and
/// expands <c>${env:NAME}</c>.
/// </summary>
public static class McpClientConfig
{
    public const string KeyVariable = "API_KEY";
    public const string Mask = "********";
    private const string EnvReference = "${env:" + KeyVariable + "}";
    private const string BridgeHeaderVariable = "AUTH_HEADER";

    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];

    /// <summary>The edit of <paramref name="existing"/> (null: no file yet) that <paramref name="update"/> asks for.</summary>
    public static ClientConfigPlan Plan(McpClient client, string path, byte[]? existing, ClientEntryUpdate update)
    {
        if (client == McpClient.ClaudeDesktop && update.UseEnvReference)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.EnvReferenceUnsupported",
                "Claude Desktop does not expand ${env:NAME} in its config; -UseEnvReference works for Cursor only.", client);
        var changes = new List<string>();
        if (existing is null)
        {
            var file = new JsonObject { ["mcpServers"] = new JsonObject { [update.ServerName] = BuildEntry(client, null, update, changes) } };
            return new ClientConfigPlan(Encoding.UTF8.GetBytes(Render(file, "", Layout.NewFile) + "\n"), "Added", changes);
        }

        var bom = existing.AsSpan().StartsWith(Bom) ? Bom.Length : 0;
        Validate(existing, bom, path);
        var root = ScanObject(existing, bom, existing.Length) ?? throw Invalid(path, "its top level is not a JSON object");
        var fileLayout = Layout.Of(existing, root);
        if (Single(root, "mcpServers", path) is not { } servers)
            return Added(Insert(existing, root, "mcpServers", new JsonObject { [update.ServerName] = BuildEntry(client, null, update, changes) }, fileLayout));
        var serversObject = ScanObject(existing, servers.ValueStart, servers.ValueEnd) ?? throw Invalid(path, "mcpServers is not a JSON object");
        if (Single(serversObject, update.ServerName, path) is not { } current)
            return Added(Insert(existing, serversObject, update.ServerName, BuildEntry(client, null, update, changes), fileLayout));

        var old = JsonNode.Parse(existing.AsSpan(current.ValueStart, current.ValueEnd - current.ValueStart)) as JsonObject
            ?? throw Invalid(path, $"mcpServers.{update.ServerName} is not a JSON object");
        var updated = BuildEntry(client, old, update, changes);
        return changes.Count == 0
            ? new ClientConfigPlan(null, "Unchanged", changes)
            : new ClientConfigPlan(Splice(existing, current.ValueStart, current.ValueEnd, Render(updated, LineIndent(existing, current.NameStart), fileLayout)),
                "Updated", changes);

        ClientConfigPlan Added((int From, int To, string Text) edit) => new(Splice(existing, edit.From, edit.To, edit.Text), "Added", changes);
    }

    /// <summary>
    /// Writes a planned file: the old one first copied to an owner-only backup beside it, a missing folder created
    /// owner-only, the file replaced atomically (a new one is owner-only: it holds the key). Returns the backup's path.
    /// </summary>
    public static string? Write(string path, byte[] content, DateTimeOffset time)
    {
        var backup = AtomicFile.Backup(path, time);
        var directory = System.IO.Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(directory);
            else
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        AtomicFile.Write(path, content);
        return backup;
    }

    /// <summary>What the operator does next so the client uses the new entry.</summary>
    public static string RestartAdvice(McpClient client) => client == McpClient.ClaudeDesktop
        ? "Claude Desktop reads this file only when it starts: quit it completely (from the tray or menu bar, not just the window) and start it again."
        : "Cursor keeps the running server's old settings: refresh the server under Settings > MCP, or restart Cursor.";

    /// <summary>The entry after the update: <paramref name="entry"/> (null for a new one) edited in place, every other field kept.</summary>
    private static JsonObject BuildEntry(McpClient client, JsonObject? entry, ClientEntryUpdate update, List<string> changes)
    {
        var secret = update.UseEnvReference ? EnvReference : update.ApiKey
            ?? throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.NoApiKey", "No API key to write: give -ApiKey or -UseEnvReference.");
        var isNew = entry is null;
        entry ??= new JsonObject();
        var remote = client == McpClient.Cursor && (isNew || entry.ContainsKey("url") || !entry.ContainsKey("command"));
        if (client == McpClient.ClaudeDesktop && !isNew && !entry.ContainsKey("command"))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.ClaudeRemoteEntry",
                $"Claude Desktop runs local servers only, and mcpServers.{update.ServerName} has no command. " +
                "Give it one (for example npx -y mcp-remote <url>), or remove the entry so a new one is written.", update.ServerName);
        if (remote)
        {
            Set(entry, "url", update.Url ?? (isNew ? update.DefaultUrl : null), "url", changes);
            Set(Child(entry, "headers", update.ServerName), "Authorization", "Bearer " + secret, "headers.Authorization", changes, isSecret: true);
        }
        else if (isNew)
        {
            // Claude Desktop reaches an HTTP server through a local bridge. The header comes from env, whole, because
            // Claude Desktop and Cursor on Windows split arguments that contain spaces (mcp-remote's README).
            var url = update.Url ?? update.DefaultUrl;
            entry["command"] = "npx";
            entry["args"] = new JsonArray("-y", "mcp-remote", url, "--header", $"Authorization:${{{BridgeHeaderVariable}}}");
            changes.Add($"command: npx -y mcp-remote {ShowUrl(url)} (new)");
            Set(Child(entry, "env", update.ServerName), BridgeHeaderVariable, "Bearer " + secret, "env." + BridgeHeaderVariable, changes, isSecret: true);
        }
        else
        {
            if (update.Url is not null && entry["args"] is JsonArray args
                && args.Select((a, i) => (a, i)).FirstOrDefault(x => IsUrl(x.a)) is { a: not null } found && (string?)found.a != update.Url)
            {
                changes.Add($"args[{found.i}]: {ShowUrl(update.Url)} (was {ShowUrl((string?)found.a)})");
                args[found.i] = update.Url;
            }
            var env = Child(entry, "env", update.ServerName);
            var variable = env.ContainsKey(BridgeHeaderVariable) ? BridgeHeaderVariable : KeyVariable;
            Set(env, variable, variable == BridgeHeaderVariable ? "Bearer " + secret : secret, "env." + variable, changes, isSecret: true);
        }
        return entry;
    }

    private static bool IsUrl(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text)
        && (text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || text.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    private static JsonObject Child(JsonObject parent, string name, string serverName)
    {
        if (parent[name] is null)
            parent[name] = new JsonObject();
        return parent[name] as JsonObject ?? throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.ClientConfigShape",
            $"mcpServers.{serverName}.{name} is not a JSON object; fix or remove it. The file was left untouched.", serverName);
    }

    /// <summary>Sets a string field when it differs, and describes the change; a secret shows as ******** (an env reference as itself).</summary>
    private static void Set(JsonObject target, string name, string? value, string label, List<string> changes, bool isSecret = false)
    {
        if (value is null)
            return;
        var old = target[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        if (old == value)
            return;
        target[name] = value;
        string Show(string? text) => text is null ? "not set" : isSecret ? MaskSecret(text) : label == "url" ? ShowUrl(text) : text;
        changes.Add($"{label}: {Show(value)} ({(old is null ? "new" : "was " + Show(old))})");
    }

    /// <summary>A secret as it may be shown: an ${env:...} reference as itself, anything else as ******** after its scheme word.</summary>
    private static string MaskSecret(string text) =>
        text.Contains("${env:", StringComparison.Ordinal) ? text : text.StartsWith("Bearer ", StringComparison.Ordinal) ? "Bearer " + Mask : Mask;

    /// <summary>A URL without user info and query, which may carry credentials.</summary>
    internal static string ShowUrl(string? url) =>
        url is null ? "not set"
        : Uri.TryCreate(url, UriKind.Absolute, out var uri)
            ? $"{uri.Scheme}://{uri.Authority}{(uri.AbsolutePath == "/" && !url.EndsWith('/') ? "" : uri.AbsolutePath)}"
            : "(not a URL)";

    private static void Validate(byte[] content, int start, string path)
    {
        try
        {
            using var _ = JsonDocument.Parse(content.AsMemory(start));
        }
        catch (JsonException ex)
        {
            // The parser's own message quotes the offending character, which may be part of a secret: say where, not what.
            throw Invalid(path, $"line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1} is not valid JSON");
        }
    }

    private static PuoException Invalid(string path, string what) =>
        new(ErrorKind.InvalidArgument, "PuoOps.Secrets.ClientConfigInvalid",
            $"{path}: {what}. The file was left untouched; fix it (or move it away to start a new one) and run again.", path);

    /// <summary>A member's name (as written, quotes included, from NameStart to NameEnd) and its value's span.</summary>
    private sealed record Member(string Name, int NameStart, int NameEnd, int ValueStart, int ValueEnd);

    private sealed record ObjectSpan(int Open, int Close, List<Member> Members);

    /// <summary>The members of the JSON object in bytes [start, end), with their positions; null when the value is not an object.</summary>
    private static ObjectSpan? ScanObject(byte[] json, int start, int end)
    {
        var reader = new Utf8JsonReader(json.AsSpan(start, end - start));
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
            return null;
        var open = start + (int)reader.TokenStartIndex;
        var members = new List<Member>();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var nameStart = start + (int)reader.TokenStartIndex;
            var nameEnd = nameStart + reader.ValueSpan.Length + 2;
            var name = reader.GetString()!;
            reader.Read();
            var valueStart = start + (int)reader.TokenStartIndex;
            reader.Skip();
            members.Add(new Member(name, nameStart, nameEnd, valueStart, start + (int)reader.BytesConsumed));
        }
        return new ObjectSpan(open, start + (int)reader.TokenStartIndex, members);
    }

    /// <summary>The member named <paramref name="name"/>, or null; a name given twice is refused, as it is ambiguous.</summary>
    private static Member? Single(ObjectSpan span, string name, string path)
    {
        var found = span.Members.Where(m => m.Name == name).ToList();
        return found.Count <= 1 ? found.FirstOrDefault() : throw Invalid(path, $"\"{name}\" appears {found.Count} times in one object");
    }

    /// <summary>Where and what to insert for a new member of <paramref name="target"/>: after its last member, or inside it when empty.</summary>
    private static (int From, int To, string Text) Insert(byte[] json, ObjectSpan target, string name, JsonNode value, Layout layout)
    {
        if (target.Members.Count > 0)
        {
            var last = target.Members[^1];
            var indent = layout.Compact ? null : LeadingBlank(json, last.NameStart);
            return indent is null
                ? (last.ValueEnd, last.ValueEnd, "," + Quote(name) + ":" + Render(value, "", Layout.CompactLayout))
                : (last.ValueEnd, last.ValueEnd, "," + layout.NewLine + indent + Quote(name) + layout.Separator + Render(value, indent, layout));
        }
        if (layout.Compact)
            return (target.Open, target.Close + 1, "{" + Quote(name) + ":" + Render(value, "", Layout.CompactLayout) + "}");
        var outer = LineIndent(json, target.Open);
        var inner = outer + layout.Unit;
        return (target.Open, target.Close + 1,
            "{" + layout.NewLine + inner + Quote(name) + layout.Separator + Render(value, inner, layout) + layout.NewLine + outer + "}");
    }

    private static byte[] Splice(byte[] json, int from, int to, string text)
    {
        var insert = Encoding.UTF8.GetBytes(text);
        var result = new byte[json.Length - (to - from) + insert.Length];
        json.AsSpan(0, from).CopyTo(result);
        insert.CopyTo(result.AsSpan(from));
        json.AsSpan(to).CopyTo(result.AsSpan(from + insert.Length));
        return result;
    }

    /// <summary>The node as JSON in the file's layout, its first line continuing the current one at <paramref name="indent"/>.</summary>
    private static string Render(JsonNode? node, string indent, Layout layout)
    {
        var inner = indent + layout.Unit;
        switch (node)
        {
            case JsonObject obj when obj.Count > 0:
                return "{" + string.Join(",", obj.Select(p => layout.NewLine + inner + Quote(p.Key) + layout.Separator + Render(p.Value, inner, layout)))
                    + layout.NewLine + indent + "}";
            case JsonObject:
                return "{}";
            case JsonArray array when array.Count > 0:
                return "[" + string.Join(",", array.Select(e => layout.NewLine + inner + Render(e, inner, layout))) + layout.NewLine + indent + "]";
            case JsonArray:
                return "[]";
            default:
                return node?.ToJsonString(Json) ?? "null";
        }
    }

    private static string Quote(string text) => JsonSerializer.Serialize(text, Json);

    /// <summary>The blanks before <paramref name="position"/> when only blanks precede it on its line; null otherwise.</summary>
    private static string? LeadingBlank(byte[] json, int position)
    {
        var start = position;
        while (start > 0 && json[start - 1] is (byte)' ' or (byte)'\t')
            start--;
        return start == 0 || json[start - 1] == '\n' ? Encoding.ASCII.GetString(json, start, position - start) : null;
    }

    /// <summary>The blanks that begin the line holding <paramref name="position"/>.</summary>
    private static string LineIndent(byte[] json, int position)
    {
        var lineStart = Array.LastIndexOf(json, (byte)'\n', Math.Max(position - 1, 0)) + 1;
        var end = lineStart;
        while (end < json.Length && json[end] is (byte)' ' or (byte)'\t')
            end++;
        return Encoding.ASCII.GetString(json, lineStart, end - lineStart);
    }

    /// <summary>How the file is laid out: the indent of one level, its line ending, what stands between a name and its value.</summary>
    private sealed record Layout(string Unit, string NewLine, string Separator, bool Compact)
    {
        public static readonly Layout CompactLayout = new("", "", ":", true);

        /// <summary>A new file: two spaces, as Claude Desktop and Cursor write theirs.</summary>
        public static readonly Layout NewFile = new("  ", "\n", ": ", false);

        public static Layout Of(byte[] json, ObjectSpan root)
        {
            var newLine = json.AsSpan().IndexOf("\r\n"u8) >= 0 ? "\r\n" : "\n";
            if (json.AsSpan(root.Open, root.Close - root.Open).IndexOf((byte)'\n') < 0)
                return CompactLayout;
            if (root.Members.Count == 0)
                return NewFile with { NewLine = newLine };
            var first = root.Members[0];
            var unit = LeadingBlank(json, first.NameStart) is { Length: > 0 } blank ? blank : "  ";
            var separator = Encoding.UTF8.GetString(json, first.NameEnd, first.ValueStart - first.NameEnd);
            return new Layout(unit, newLine, separator.Contains('\n') ? ": " : separator, false);
        }
    }
}
