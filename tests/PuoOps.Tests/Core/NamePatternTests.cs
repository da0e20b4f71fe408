using System.Management.Automation;
using Npgsql;
using PuoOps.Engine;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Core;

/// <summary>
/// The one name rule, checked against PowerShell's own WildcardPattern (the oracle an operator knows from -like)
/// and against PostgreSQL evaluating the same pattern as <c>~*</c>, so SQL and .NET matching cannot drift apart.
/// </summary>
public sealed class NamePatternTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "memories", "memories" }, { "Memories", "memories" }, { "MEMORIES", "Memories" },
        { "mem*", "memories" }, { "*ries", "memories" }, { "*", "" }, { "m?mories", "memories" }, { "m?mories", "mmories" },
        { "[mn]emories", "memories" }, { "[a-l]emories", "memories" }, { "[A-Z]emories", "memories" }, { "audit_[l-m]og?", "audit_logs" },
        { "audit_log?", "audit_logsX" }, { "a.b", "a.b" }, { "a.b", "aXb" }, { "50%", "50%" }, { "50%", "500" }, { "under_score", "underXscore" },
        { "`*star", "*star" }, { "`*star", "xstar" }, { "q`?", "q?" }, { "q`?", "qx" }, { "br`[1`]", "br[1]" }, { "br`[1`]", "br1" },
        { "it's", "it's" }, { "semi;colon", "semi;colon" }, { "drop table x;--", "drop table x;--" }, { "quote\"d", "quote\"d" },
        { "back\\slash", "back\\slash" }, { "(paren)+{brace}|$^", "(paren)+{brace}|$^" }, { "[-x]", "-" }, { "[x-]", "-" }, { "[`]]", "]" },
        { "tick`", "tick`" }, { "sp ace", "sp ace" },
    };

    /// <summary>Non-ASCII case folding on the server follows the database's LC_CTYPE (the sandbox's is C), so these are .NET-only.</summary>
    public static TheoryData<string, string> NonAsciiCases() => new() { { "ümlaut*", "Ümlauts" }, { "straße", "STRASSE" } };

    [Theory]
    [MemberData(nameof(Cases))]
    [MemberData(nameof(NonAsciiCases))]
    public void Matches_like_PowerShell_wildcards(string pattern, string name)
    {
        var expected = WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase | WildcardOptions.CultureInvariant).IsMatch(name);
        Assert.Equal(expected, NamePattern.Parse(pattern).IsMatch(name));
    }

    [Fact]
    public async Task PostgreSQL_evaluates_the_pattern_as_dotnet_does()
    {
        await using var connection = new NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await connection.OpenAsync();
        foreach (var (pattern, name) in Cases().Select(row => ((string)row[0], (string)row[1])))
        {
            await using var command = new NpgsqlCommand("SELECT @name ~* @pattern", connection);
            command.Parameters.AddWithValue("name", name);
            command.Parameters.AddWithValue("pattern", NamePattern.Parse(pattern).Regex);
            var server = (bool)(await command.ExecuteScalarAsync())!;
            Assert.True(server == NamePattern.Parse(pattern).IsMatch(name), $"'{pattern}' vs '{name}': PostgreSQL says {server}");
        }
    }

    [Theory]
    [InlineData("memories", "memories")]
    [InlineData("br`[1`]", "br[1]")]
    [InlineData("`*", "*")]
    public void A_pattern_without_wildcards_is_a_literal(string pattern, string literal)
    {
        var parsed = NamePattern.Parse(pattern);
        Assert.False(parsed.HasWildcards);
        Assert.Equal(literal, parsed.Literal);
    }

    [Theory]
    [InlineData("mem*")]
    [InlineData("[ab]")]
    [InlineData("a?")]
    public void A_pattern_with_wildcards_has_no_literal(string pattern) => Assert.Null(NamePattern.Parse(pattern).Literal);

    [Theory]
    [InlineData("[abc")]
    [InlineData("x[]")]
    public void An_unclosed_or_empty_set_is_an_invalid_argument(string pattern) =>
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => NamePattern.Parse(pattern)).Kind);

    [Theory]
    [InlineData("public.memories", "public", "memories")]
    [InlineData("pub*.mem*", "pub*", "mem*")]
    [InlineData("memories", null, "memories")]
    [InlineData("odd`.name", null, "odd`.name")]
    [InlineData("s.[a.b]", "s", "[a.b]")]
    [InlineData(".hidden", null, ".hidden")]
    public void Schema_qualified_names_split_at_the_first_unescaped_dot(string text, string? schema, string name)
    {
        var (s, n) = NamePattern.ParseQualified(text);
        Assert.Equal(schema, s?.Text);
        Assert.Equal(name, n.Text);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("we*rd?[x]`")]
    public void Escape_makes_a_name_match_only_itself(string name)
    {
        var pattern = NamePattern.Parse(NamePattern.Escape(name));
        Assert.Equal(name, pattern.Literal);
        Assert.True(pattern.IsMatch(name));
    }
}
