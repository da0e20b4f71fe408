using System.Text;

namespace PuoOps.Engine.Nginx;

/// <summary>One directive of an nginx configuration: its name, arguments (quotes removed) and block depth (0 = main).</summary>
public sealed record NginxDirective(string Name, IReadOnlyList<string> Arguments, int Depth);

/// <summary>
/// Reads the directives of nginx configuration text the way nginx tokenises it: words separated by blanks,
/// <c>;</c> ending a directive, <c>{ }</c> opening and closing a block, <c>#</c> starting a comment at the start of
/// a word, single or double quotes around a word (backslash escapes inside). Written here because no maintained
/// .NET package parses nginx configuration; it only locates directives, nginx itself validates (nginx -t).
/// </summary>
public static class NginxConfigSyntax
{
    public static IEnumerable<NginxDirective> Directives(string text)
    {
        var words = new List<string>();
        var depth = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '#')
            {
                while (i < text.Length && text[i] != '\n')
                    i++;
            }
            else if (c is ';' or '{' or '}')
            {
                if (words.Count > 0)
                {
                    yield return new NginxDirective(words[0], words.Skip(1).ToList(), depth);
                    words.Clear();
                }
                depth = c == '{' ? depth + 1 : c == '}' ? Math.Max(0, depth - 1) : depth;
                i++;
            }
            else
            {
                words.Add(ReadWord(text, ref i));
            }
        }
    }

    private static string ReadWord(string text, ref int i)
    {
        var word = new StringBuilder();
        var quote = text[i] is '"' or '\'' ? text[i++] : '\0';
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (quote != '\0')
            {
                if (c == '\\' && i + 1 < text.Length)
                    word.Append(text[++i]);
                else if (c == quote)
                {
                    i++;
                    break;
                }
                else
                    word.Append(c);
            }
            else if (char.IsWhiteSpace(c) || c is ';' or '{' or '}')
                break;
            else
                word.Append(c);
        }
        return word.ToString();
    }
}
