using System.Text;
using System.Text.Json.Nodes;
using PuoOps.Engine.Secrets;

namespace PuoOps.Tests.Secrets;

public sealed class McpClientConfigTests
{
    private const string Key = "Zx9QnewKeyF4kq82LmvT0pwe";
    private static readonly ClientEntryUpdate Update = new("puo-memo", null, "http://127.0.0.1:3000", Key, false);

    // A Claude Desktop file as people have them: other servers, other top-level keys, 4-space indent, non-ASCII text.
    private const string Claude = """
        {
            "globalShortcut": "Ctrl+Space",
            "mcpServers": {
                "filesystem": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/ops/Documents"]
                },
                "puo-memo": {
                    "command": "/opt/puo/venv/bin/python3",
                    "args": ["/opt/puo/server.py"],
                    "env": {
                        "PYTHONPATH": "/opt/puo",
                        "API_KEY": "Zx9QoldKey11111111111111"
                    },
                    "description": "Mémoire <PUO> & co"
                }
            },
            "theme": {"dark": true, "ratio": 1.50}
        }

        """;

    [Fact]
    public void Updating_an_entry_changes_its_key_and_leaves_every_other_byte_alone()
    {
        var plan = McpClientConfig.Plan(McpClient.ClaudeDesktop, "claude.json", Encoding.UTF8.GetBytes(Claude), Update);
        Assert.Equal("Updated", plan.Action);
        var text = Encoding.UTF8.GetString(plan.Content!);
        var entryStart = Claude.IndexOf("\"puo-memo\": ", StringComparison.Ordinal);
        var entryEnd = Claude.IndexOf("        }\n    },", StringComparison.Ordinal) + 9;
        Assert.Equal(Claude[..entryStart], text[..entryStart]);
        Assert.Equal(Claude[entryEnd..], text[^(Claude.Length - entryEnd)..]);
        Assert.Equal("""
            "puo-memo": {
                        "command": "/opt/puo/venv/bin/python3",
                        "args": [
                            "/opt/puo/server.py"
                        ],
                        "env": {
                            "PYTHONPATH": "/opt/puo",
                            "API_KEY": "Zx9QnewKeyF4kq82LmvT0pwe"
                        },
                        "description": "Mémoire <PUO> & co"
                    }
            """, text[entryStart..^(Claude.Length - entryEnd)]);
        Assert.Equal(["env.API_KEY: ******** (was ********)"], plan.Changes);
    }

    [Fact]
    public void The_same_key_again_changes_nothing()
    {
        var once = McpClientConfig.Plan(McpClient.ClaudeDesktop, "c", Encoding.UTF8.GetBytes(Claude), Update).Content!;
        var again = McpClientConfig.Plan(McpClient.ClaudeDesktop, "c", once, Update);
        Assert.Equal("Unchanged", again.Action);
        Assert.Null(again.Content);
    }

    [Fact]
    public void A_new_Claude_entry_is_the_mcp_remote_bridge_with_the_key_in_env()
    {
        const string before = "{\n\t\"mcpServers\": {\n\t\t\"other\": {\"command\": \"x\"}\n\t}\n}\n";
        var plan = McpClientConfig.Plan(McpClient.ClaudeDesktop, "c", Encoding.UTF8.GetBytes(before), Update);
        Assert.Equal("Added", plan.Action);
        Assert.Equal("{\n\t\"mcpServers\": {\n\t\t\"other\": {\"command\": \"x\"},\n\t\t\"puo-memo\": {\n\t\t\t\"command\": \"npx\",\n\t\t\t\"args\": [\n" +
            "\t\t\t\t\"-y\",\n\t\t\t\t\"mcp-remote\",\n\t\t\t\t\"http://127.0.0.1:3000\",\n\t\t\t\t\"--header\",\n\t\t\t\t\"Authorization:${AUTH_HEADER}\"\n\t\t\t],\n" +
            "\t\t\t\"env\": {\n\t\t\t\t\"AUTH_HEADER\": \"Bearer Zx9QnewKeyF4kq82LmvT0pwe\"\n\t\t\t}\n\t\t}\n\t}\n}\n", Encoding.UTF8.GetString(plan.Content!));
        Assert.DoesNotContain(plan.Changes, c => c.Contains("Zx9Q"));
    }

    [Fact]
    public void A_new_Cursor_entry_is_remote_and_can_reference_the_environment_instead_of_the_key()
    {
        const string before = "{\r\n  \"mcpServers\": {}\r\n}";
        var plan = McpClientConfig.Plan(McpClient.Cursor, "m", Encoding.UTF8.GetBytes(before), Update with { UseEnvReference = true, ApiKey = null });
        Assert.Equal("{\r\n  \"mcpServers\": {\r\n    \"puo-memo\": {\r\n      \"url\": \"http://127.0.0.1:3000\",\r\n      \"headers\": {\r\n" +
            "        \"Authorization\": \"Bearer ${env:API_KEY}\"\r\n      }\r\n    }\r\n  }\r\n}", Encoding.UTF8.GetString(plan.Content!));
        Assert.Contains("headers.Authorization: Bearer ${env:API_KEY} (new)", plan.Changes);
    }

    [Fact]
    public void An_existing_Cursor_remote_entry_gets_the_new_url_and_header_and_keeps_its_other_headers()
    {
        const string before = """{"mcpServers":{"puo-memo":{"url":"https://old.example/mcp?token=Zx9Qold","headers":{"X-Team":"ops","Authorization":"Bearer Zx9Qold"}}},"x":1}""";
        var plan = McpClientConfig.Plan(McpClient.Cursor, "m", Encoding.UTF8.GetBytes(before), Update with { Url = "https://memo.example/mcp" });
        Assert.Equal("""{"mcpServers":{"puo-memo":{"url":"https://memo.example/mcp","headers":{"X-Team":"ops","Authorization":"Bearer Zx9QnewKeyF4kq82LmvT0pwe"}}},"x":1}""",
            Encoding.UTF8.GetString(plan.Content!));
        Assert.Equal(["url: https://memo.example/mcp (was https://old.example/mcp)", "headers.Authorization: Bearer ******** (was Bearer ********)"], plan.Changes);
    }

    [Fact]
    public void A_bridge_entry_gets_its_url_argument_and_auth_header_replaced()
    {
        const string before = """{"mcpServers":{"puo-memo":{"command":"npx","args":["-y","mcp-remote","http://old:3000","--header","Authorization:${AUTH_HEADER}"],"env":{"AUTH_HEADER":"Bearer Zx9Qold"}}}}""";
        var plan = McpClientConfig.Plan(McpClient.ClaudeDesktop, "c", Encoding.UTF8.GetBytes(before), Update with { Url = "http://new:3000" });
        var entry = JsonNode.Parse(plan.Content!)!["mcpServers"]!["puo-memo"]!;
        Assert.Equal("http://new:3000", (string?)entry["args"]![2]);
        Assert.Equal("Bearer " + Key, (string?)entry["env"]!["AUTH_HEADER"]);
        Assert.Null(entry["env"]!["API_KEY"]);
    }

    [Fact]
    public void A_file_without_mcpServers_gets_it_as_a_new_last_member()
    {
        const string before = "{\n  \"theme\": \"dark\"\n}\n";
        var text = Encoding.UTF8.GetString(McpClientConfig.Plan(McpClient.Cursor, "m", Encoding.UTF8.GetBytes(before), Update).Content!);
        Assert.StartsWith("{\n  \"theme\": \"dark\",\n  \"mcpServers\": {\n    \"puo-memo\": {\n      \"url\": ", text);
        Assert.EndsWith("\n    }\n  }\n}\n", text);
    }

    [Fact]
    public void No_file_yet_gives_a_new_one_with_two_space_indent()
    {
        var plan = McpClientConfig.Plan(McpClient.Cursor, "m", null, Update);
        Assert.Equal("Added", plan.Action);
        Assert.StartsWith("{\n  \"mcpServers\": {\n    \"puo-memo\": {\n", Encoding.UTF8.GetString(plan.Content!));
    }

    [Theory]
    [InlineData("{\"mcpServers\": {\"puo-memo\": {\"command\": \"x\", \"env\": {\"API_KEY\": Zx9Qunquoted}}}}", "line 1")]
    [InlineData("{\n  \"mcpServers\": {},\n}\n", "line 3")]            // trailing comma
    [InlineData("{\n  // comment\n  \"mcpServers\": {}\n}", "line 2")]
    [InlineData("", "line 1")]
    public void Invalid_json_is_refused_with_where_but_not_what(string content, string where)
    {
        var error = Assert.Throws<PuoException>(() => McpClientConfig.Plan(McpClient.Cursor, "m.json", Encoding.UTF8.GetBytes(content), Update));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Equal("PuoOps.Secrets.ClientConfigInvalid", error.ErrorId);
        Assert.Contains(where, error.Message);
        Assert.DoesNotContain("'Z'", error.ToString());
        Assert.Null(error.InnerException);
    }

    [Theory]
    [InlineData("[1, 2]")]
    [InlineData("{\"mcpServers\": []}")]
    [InlineData("{\"mcpServers\": {\"puo-memo\": \"x\"}}")]
    [InlineData("{\"mcpServers\": {\"puo-memo\": {\"url\": \"u\"}, \"puo-memo\": {\"url\": \"v\"}}}")]
    public void A_shape_that_is_not_a_config_is_refused(string content)
    {
        var error = Assert.Throws<PuoException>(() => McpClientConfig.Plan(McpClient.Cursor, "m.json", Encoding.UTF8.GetBytes(content), Update));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
    }

    [Fact]
    public void Claude_refuses_env_references_and_remote_entries()
    {
        Assert.Equal("PuoOps.Secrets.EnvReferenceUnsupported", Assert.Throws<PuoException>(() =>
            McpClientConfig.Plan(McpClient.ClaudeDesktop, "c", null, Update with { UseEnvReference = true })).ErrorId);
        Assert.Equal("PuoOps.Secrets.ClaudeRemoteEntry", Assert.Throws<PuoException>(() => McpClientConfig.Plan(McpClient.ClaudeDesktop, "c",
            """{"mcpServers":{"puo-memo":{"url":"http://x"}}}"""u8.ToArray(), Update)).ErrorId);
    }

    [Fact]
    public void A_byte_order_mark_is_accepted_and_kept()
    {
        byte[] before = [0xEF, 0xBB, 0xBF, .. """{"mcpServers":{}}"""u8];
        var content = McpClientConfig.Plan(McpClient.Cursor, "m", before, Update).Content!;
        Assert.Equal([0xEF, 0xBB, 0xBF], content[..3]);
        Assert.NotNull(JsonNode.Parse(content.AsSpan(3))!["mcpServers"]!["puo-memo"]);
    }

    [Theory]
    [InlineData("https://u:Zx9Qpw@memo.example:8443/mcp?api_key=Zx9Qk#f", "https://memo.example:8443/mcp")]
    [InlineData("not a url", "(not a URL)")]
    public void Urls_are_shown_without_credentials_or_query(string url, string shown) => Assert.Equal(shown, McpClientConfig.ShowUrl(url));

    [Theory]
    [InlineData(OperatingSystemKind.Windows, null, @"C:\Users\ops\AppData\Roaming\Claude\claude_desktop_config.json")]
    [InlineData(OperatingSystemKind.Windows, "Claude_pzs8sxrjxfjjc", @"C:\Users\ops\AppData\Local\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude\claude_desktop_config.json")]
    [InlineData(OperatingSystemKind.MacOS, null, "/Users/ops/Library/Application Support/Claude/claude_desktop_config.json")]
    [InlineData(OperatingSystemKind.Linux, null, "/home/ops/.config/Claude/claude_desktop_config.json")]
    public void Claude_Desktop_keeps_its_config_where_its_OS_build_reads_it(OperatingSystemKind os, string? package, string expected)
    {
        var locations = os switch
        {
            OperatingSystemKind.Windows => new ClientLocations(os, @"C:\Users\ops", @"C:\Users\ops\AppData\Roaming", @"C:\Users\ops\AppData\Local", null, package),
            OperatingSystemKind.MacOS => new ClientLocations(os, "/Users/ops", null, null, null, null),
            _ => new ClientLocations(os, "/home/ops", null, null, null, null),
        };
        Assert.Equal(expected, locations.ConfigPath(McpClient.ClaudeDesktop));
    }

    [Fact]
    public void Cursor_keeps_a_global_and_a_per_project_config()
    {
        var linux = new ClientLocations(OperatingSystemKind.Linux, "/home/ops", null, null, "/home/ops/.xdg", null);
        Assert.Equal("/home/ops/.cursor/mcp.json", linux.ConfigPath(McpClient.Cursor));
        Assert.Equal("/src/puo/.cursor/mcp.json", linux.ConfigPath(McpClient.Cursor, "/src/puo/"));
        Assert.Equal("/home/ops/.xdg/Claude/claude_desktop_config.json", linux.ConfigPath(McpClient.ClaudeDesktop));
        var windows = new ClientLocations(OperatingSystemKind.Windows, @"C:\Users\ops", null, null, null, null);
        Assert.Equal(@"C:\Users\ops\.cursor\mcp.json", windows.ConfigPath(McpClient.Cursor));
    }
}
