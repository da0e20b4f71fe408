using System.Text;
using PuoOps.Engine.Secrets;

namespace PuoOps.Tests.Secrets;

public sealed class DotEnvFileTests
{
    // Everything compose accepts in one file: comments, blanks, export, spacing, all three quoting styles, inline comments,
    // a multi-line quoted value that contains a KEY=VALUE-looking line, CRLF endings, a BOM, and bytes that are not UTF-8.
    private static readonly byte[] Sample = [0xEF, 0xBB, 0xBF, .. Encoding.Latin1.GetBytes(
        "# PUO Memo\r\n" +
        "\r\n" +
        "export API_KEY=oldkey123 # primary\r\n" +
        "   JWT_SECRET = \"old jwt \\\"q\\\" secret\"   # quoted\r\n" +
        "REFRESH_SECRET='sq$literal'\r\n" +
        "PEM=\"line1\r\nAPI_KEY=not-a-key\r\nline3\"\r\n" +
        "DATABASE_URL=postgres://u:p@h/db#frag\r\n" +
        "EMPTY=\r\n" +
        "LATIN=caf\xe9\r\n" +
        "garbage line without equals\r\n" +
        "API_KEY=second\r\n" +
        "LAST=no-newline")];

    [Fact]
    public void Reads_values_as_compose_does()
    {
        var file = DotEnvFile.Parse(Sample, "sample");
        Assert.True(file.TryGetValue("API_KEY", out var api));
        Assert.Equal("second", api); // the last assignment wins
        Assert.Equal(2, file.CountOf("API_KEY"));
        Assert.True(file.TryGetValue("JWT_SECRET", out var jwt));
        Assert.Equal("old jwt \"q\" secret", jwt);
        Assert.True(file.TryGetValue("REFRESH_SECRET", out var single));
        Assert.Equal("sq$literal", single);
        Assert.True(file.TryGetValue("PEM", out var pem));
        Assert.Equal("line1\r\nAPI_KEY=not-a-key\r\nline3", pem);
        Assert.True(file.TryGetValue("DATABASE_URL", out var url));
        Assert.Equal("postgres://u:p@h/db#frag", url); // a # without a blank before it is not a comment
        Assert.True(file.TryGetValue("EMPTY", out var empty));
        Assert.Equal("", empty);
        Assert.True(file.TryGetValue("LAST", out var last));
        Assert.Equal("no-newline", last);
        Assert.Equal(["API_KEY", "JWT_SECRET", "REFRESH_SECRET", "PEM", "DATABASE_URL", "EMPTY", "LATIN", "LAST"], file.Keys);
    }

    [Fact]
    public void Changing_nothing_gives_the_same_bytes()
    {
        Assert.Equal(Sample, DotEnvFile.Parse(Sample, "sample").With(new Dictionary<string, string>()));
    }

    [Fact]
    public void Changing_a_key_touches_only_its_values()
    {
        var file = DotEnvFile.Parse(Sample, "sample");
        var changed = file.With(new Dictionary<string, string> { ["API_KEY"] = "NewKey42", ["JWT_SECRET"] = "NewJwt99" });
        var expected = Encoding.Latin1.GetString(Sample)
            .Replace("export API_KEY=oldkey123 # primary", "export API_KEY=NewKey42 # primary")
            .Replace("JWT_SECRET = \"old jwt \\\"q\\\" secret\"   # quoted", "JWT_SECRET = \"NewJwt99\"   # quoted")
            .Replace("API_KEY=second", "API_KEY=NewKey42");
        Assert.Equal(expected, Encoding.Latin1.GetString(changed));
        // The PEM's inner line is part of a value, not an assignment.
        Assert.Contains("API_KEY=not-a-key", Encoding.Latin1.GetString(changed));
        var reread = DotEnvFile.Parse(changed, "changed");
        Assert.True(reread.TryGetValue("API_KEY", out var api));
        Assert.Equal("NewKey42", api);
    }

    [Theory]
    [InlineData("K=old\n", "abc$DEF", "K='abc$DEF'\n")]          // unquoted + $: single quotes, compose takes them literally
    [InlineData("K=\"old\"\n", "abc$DEF", "K='abc$DEF'\n")]      // double quotes would interpolate $DEF
    [InlineData("K='old'\n", "abc$DEF", "K='abc$DEF'\n")]
    [InlineData("K=old\n", "a&b;c", "K='a&b;c'\n")]              // a shell sourcing the file would split this
    [InlineData("K=old\n", "Abc-123_x.y", "K=Abc-123_x.y\n")]    // stays unquoted
    [InlineData("K=\"old\"\n", "a\"b`c", "K=\"a\\\"b\\`c\"\n")]
    [InlineData("K='old'\n", "plain", "K='plain'\n")]
    [InlineData("K=\n", "v", "K=v\n")]
    [InlineData("K= # c\n", "v", "K=v # c\n")]
    public void A_new_value_keeps_the_quoting_style_unless_it_would_change_its_meaning(string before, string value, string after)
    {
        var file = DotEnvFile.Parse(Encoding.UTF8.GetBytes(before), "f");
        var written = file.With(new Dictionary<string, string> { ["K"] = value });
        Assert.Equal(after, Encoding.UTF8.GetString(written));
        Assert.True(DotEnvFile.Parse(written, "f").TryGetValue("K", out var reread));
        Assert.Equal(value, reread);
    }

    [Fact]
    public void A_key_right_after_a_byte_order_mark_is_read_and_the_mark_kept()
    {
        byte[] content = [0xEF, 0xBB, 0xBF, .. "API_KEY=a\n"u8];
        var written = DotEnvFile.Parse(content, "f").With(new Dictionary<string, string> { ["API_KEY"] = "b" });
        Assert.Equal([0xEF, 0xBB, 0xBF, .. "API_KEY=b\n"u8], written);
    }

    [Fact]
    public void A_value_no_dotenv_reader_agrees_on_is_refused()
    {
        var file = DotEnvFile.Parse("K=x\n"u8, "f");
        var quote = Assert.Throws<PuoException>(() => file.With(new Dictionary<string, string> { ["K"] = "a'$b" }));
        Assert.Equal(ErrorKind.InvalidArgument, quote.Kind);
        Assert.DoesNotContain("a'$b", quote.Message);
        Assert.Throws<PuoException>(() => file.With(new Dictionary<string, string> { ["K"] = "two\nlines" }));
    }

    [Fact]
    public void A_key_that_is_not_in_the_file_is_not_found_and_nothing_is_added()
    {
        var file = DotEnvFile.Parse("A=1\n"u8, "f");
        var error = Assert.Throws<PuoException>(() => file.With(new Dictionary<string, string> { ["B"] = "2" }));
        Assert.Equal(ErrorKind.NotFound, error.Kind);
    }

    [Fact]
    public void An_unclosed_quote_names_the_line_but_not_its_text()
    {
        var error = Assert.Throws<PuoException>(() => DotEnvFile.Parse("A=1\nB=2\nAPI_KEY=\"Zx9Qsecretvalue\nC=3\n"u8, "f"));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("line 3", error.Message);
        Assert.DoesNotContain("Zx9Q", error.Message);
    }
}
