using System.Text;
using System.Text.RegularExpressions;

namespace PuoOps.Engine;

/// <summary>
/// The one rule by which every name selector of the module (-Table, -Index, -Schema, -Service, -Container,
/// -Image, environment -Name) matches: PowerShell's wildcards (<c>*</c>, <c>?</c>, <c>[abc]</c>, <c>[a-z]</c>,
/// backtick escapes), case-insensitive like <c>-like</c>. Parsed once, then used as a .NET matcher
/// (<see cref="IsMatch"/>) or as a regular expression a server evaluates (<see cref="Regex"/>, e.g. PostgreSQL's
/// <c>name ~* @pattern</c>), so user text is never spliced into SQL. Written here because the engine references
/// no PowerShell assembly (WildcardPattern lives there).
/// </summary>
public sealed class NamePattern
{
    /// <summary>Characters that are special in .NET and PostgreSQL regular expressions; escaped with a backslash.</summary>
    private const string RegexSpecials = @"\^$.|?*+()[]{}";

    private readonly Regex _matcher;

    private NamePattern(string text, string regex, string? literal)
    {
        Text = text;
        Regex = regex;
        Literal = literal;
        _matcher = new Regex(regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    /// <summary>The pattern as the operator typed it.</summary>
    public string Text { get; }

    /// <summary>
    /// An anchored regular expression meaning the same, in the subset .NET and PostgreSQL's advanced regular
    /// expressions read alike (match it case-insensitively: <c>~*</c> in PostgreSQL).
    /// </summary>
    public string Regex { get; }

    /// <summary>The name itself, escapes removed, when the pattern has no wildcard; otherwise null.</summary>
    public string? Literal { get; }

    public bool HasWildcards => Literal is null;

    /// <summary>Matches every name.</summary>
    public static NamePattern Any { get; } = Parse("*");

    public bool IsMatch(string? name) => name is not null && _matcher.IsMatch(name);

    public override string ToString() => Text;

    /// <summary>Parses <paramref name="text"/>; a <c>[</c> without its <c>]</c> is InvalidArgument, as in PowerShell.</summary>
    public static NamePattern Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var regex = new StringBuilder("^", text.Length + 8);
        var literal = new StringBuilder(text.Length);
        var wildcard = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '`' when i + 1 < text.Length:
                    AppendLiteral(regex, text[++i]);
                    literal.Append(text[i]);
                    break;
                case '*':
                    regex.Append(".*");
                    wildcard = true;
                    break;
                case '?':
                    regex.Append('.');
                    wildcard = true;
                    break;
                case '[':
                    i = AppendSet(regex, text, i);
                    wildcard = true;
                    break;
                default:
                    AppendLiteral(regex, c);
                    literal.Append(c);
                    break;
            }
        }
        regex.Append('$');
        return new NamePattern(text, regex.ToString(), wildcard ? null : literal.ToString());
    }

    /// <summary>
    /// Splits <c>schema.name</c> at its first dot that is not escaped (<c>`.</c>) or inside a set, as -Table and
    /// -Index accept it. Without a dot the schema is null (the caller's default schemas apply).
    /// </summary>
    public static (NamePattern? Schema, NamePattern Name) ParseQualified(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '`':
                    i++;
                    break;
                case '[':
                    var close = text.IndexOf(']', i + 1);
                    i = close < 0 ? text.Length : close;
                    break;
                case '.' when i > 0 && i < text.Length - 1:
                    return (Parse(text[..i]), Parse(text[(i + 1)..]));
            }
        }
        return (null, Parse(text));
    }

    /// <summary>
    /// Escapes <paramref name="name"/> so that it matches only itself, also where <see cref="ParseQualified"/>
    /// reads it (a dot is escaped too).
    /// </summary>
    public static string Escape(string name)
    {
        var escaped = new StringBuilder(name.Length + 4);
        foreach (var c in name)
        {
            if (c is '*' or '?' or '[' or ']' or '`' or '.')
                escaped.Append('`');
            escaped.Append(c);
        }
        return escaped.ToString();
    }

    private static void AppendLiteral(StringBuilder regex, char c)
    {
        if (RegexSpecials.Contains(c))
            regex.Append('\\');
        regex.Append(c);
    }

    private static void AppendSetMember(StringBuilder members, char c)
    {
        if (c is '\\' or '^' or '[' or ']' or '-')
            members.Append('\\');
        members.Append(c);
    }

    /// <summary>Copies the set that opens at <paramref name="open"/>; returns the index of its closing bracket.</summary>
    private static int AppendSet(StringBuilder regex, string text, int open)
    {
        var members = new StringBuilder();
        var i = open + 1;
        for (; i < text.Length && text[i] != ']'; i++)
        {
            var c = text[i];
            if (c == '`' && i + 1 < text.Length)
                AppendSetMember(members, text[++i]);
            else if (c == '-' && members.Length > 0 && i + 1 < text.Length && text[i + 1] != ']')
                members.Append('-'); // a range, as in [a-z]
            else
                AppendSetMember(members, c);
        }
        if (i >= text.Length || members.Length == 0)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.NamePattern.Invalid",
                $"The pattern '{text}' has a '[' without a closing ']' or an empty set. Escape a literal bracket with a backtick (`[).", text);
        regex.Append('[').Append(members).Append(']');
        return i;
    }
}
