using System.Text.RegularExpressions;

namespace PuoOps.Engine;

/// <summary>
/// Hides secrets in text the module shows but did not write itself: process command lines and query text. It masks
/// the value of a secret-named option (<c>--password x</c>, <c>--password=x</c>, <c>redis-cli -a x</c>), of a
/// secret-named assignment (<c>password=x</c>, <c>PGPASSWORD=x</c>, <c>Password=x;</c> in a connection string), the
/// password of a URL (<c>postgres://user:x@host</c>) and a SQL <c>PASSWORD 'x'</c>. It errs towards masking: a
/// harmless value under a secret-sounding name is hidden too.
/// </summary>
public static partial class SecretMask
{
    public const string Mask = "***";

    /// <summary>Words that make an option or a variable name secret (matched anywhere in the name, any case).</summary>
    private const string SecretWords = "pass(?:word|wd)?|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credentials?|auth|masterauth|requirepass";

    /// <summary>Programs whose -a option is a password (redis-cli -a secret).</summary>
    private static readonly HashSet<string> DashAPassword = new(StringComparer.Ordinal) { "redis-cli", "redis-benchmark", "keydb-cli", "valkey-cli" };

    /// <summary>
    /// A command line from its arguments (as /proc/PID/cmdline holds them), joined with spaces like ps shows it,
    /// secrets masked.
    /// </summary>
    public static string CommandLine(IReadOnlyList<string> arguments)
    {
        var masked = new string[arguments.Count];
        var program = arguments.Count > 0 ? Path.GetFileName(arguments[0]) : "";
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            masked[i] = Text(argument);
            // "--password secret": the option is one argument, its value the next (unless that is another option).
            if (i + 1 < arguments.Count && !arguments[i + 1].StartsWith('-')
                && (SecretOption().IsMatch(argument) || (argument == "-a" && DashAPassword.Contains(program))))
                masked[++i] = Mask;
        }
        return string.Join(' ', masked);
    }

    /// <summary><paramref name="text"/> with secret assignments, URL passwords and SQL passwords masked.</summary>
    public static string Text(string text)
    {
        if (text.Length == 0)
            return text;
        text = UrlPassword().Replace(text, m => m.Groups["head"].Value + Mask + "@");
        text = SecretAssignment().Replace(text, m => m.Groups["name"].Value + m.Groups["sep"].Value + Mask);
        return SqlPassword().Replace(text, m => m.Groups["keyword"].Value + "'" + Mask + "'");
    }

    /// <summary>An option (one or two dashes) whose name has a secret word, with no value attached.</summary>
    [GeneratedRegex($@"^--?[\w.-]*(?:{SecretWords})[\w.-]*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretOption();

    /// <summary>name=value or name: value where the name has a secret word; the value runs to a space, ; or &amp;, or is quoted.</summary>
    [GeneratedRegex($@"(?<name>[\w.-]*(?:{SecretWords})[\w.-]*)(?<sep>\s*=\s*)(?:""[^""]*""|'[^']*'|[^\s;&]+)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretAssignment();

    /// <summary>scheme://user:password@ (the user may be empty, as in redis://:password@host).</summary>
    [GeneratedRegex(@"(?<head>\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlPassword();

    /// <summary>CREATE/ALTER ROLE ... PASSWORD 'x' (with '' escapes inside).</summary>
    [GeneratedRegex(@"(?<keyword>\bPASSWORD\s+)'(?:[^']|'')*'", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SqlPassword();
}
