using System.Text;

namespace PuoOps.Engine.Secrets;

/// <summary>
/// An <c>.env</c> file read the way docker compose reads it (<c>KEY=VALUE</c>, optional <c>export </c>, <c>#</c>
/// comments, unquoted, <c>"double"</c> and <c>'single'</c> quoted values, quoted values over several lines) and kept
/// as its exact bytes, so that <see cref="With"/> changes the values it is given and nothing else: comments, order,
/// blank lines, prefixes, spacing, quoting, line endings (CRLF stays CRLF) and every other key stay byte for byte.
/// Written here because the dotenv packages only load values; none edits a file without rewriting it.
/// </summary>
public sealed class DotEnvFile
{
    // One char per byte: any byte sequence (BOM, invalid UTF-8, CRLF) survives the round trip unchanged.
    private static readonly Encoding Bytes = Encoding.Latin1;
    // Characters an unquoted value may hold without a shell (`source .env`) or compose reading them differently.
    private const string ShellSafe = "_-.,:/+=@%^";

    private readonly string _text;
    private readonly List<Assignment> _assignments;

    private DotEnvFile(string path, string text, List<Assignment> assignments)
    {
        Path = path;
        _text = text;
        _assignments = assignments;
    }

    /// <summary>Where the file was read from (for messages).</summary>
    public string Path { get; }

    /// <summary>The keys in file order, each once.</summary>
    public IEnumerable<string> Keys => _assignments.Select(a => a.Key).Distinct(StringComparer.Ordinal);

    /// <summary>The value docker compose uses (the last assignment wins), escapes resolved; false when the key is absent.</summary>
    public bool TryGetValue(string key, out string value)
    {
        var last = _assignments.LastOrDefault(a => a.Key == key);
        value = last?.Value ?? "";
        return last is not null;
    }

    /// <summary>How many times <paramref name="key"/> is assigned (more than once is legal; the last one wins).</summary>
    public int CountOf(string key) => _assignments.Count(a => a.Key == key);

    public static DotEnvFile Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Secrets.EnvFileNotFound",
                $"There is no .env file at {path}. Give -EnvFile, or Connect-PuoEnvironment -EnvFile.", path);
        }
        catch (DirectoryNotFoundException)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Secrets.EnvFileNotFound",
                $"There is no .env file at {path}: its folder does not exist. Give -EnvFile, or Connect-PuoEnvironment -EnvFile.", path);
        }
        catch (UnauthorizedAccessException)
        {
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Secrets.EnvFileDenied",
                $"This user may not read {path}. Run as its owner (or root).", path);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses <paramref name="content"/>; an unterminated quote is InvalidArgument naming the line, never its text.</summary>
    public static DotEnvFile Parse(ReadOnlySpan<byte> content, string path)
    {
        var text = Bytes.GetString(content);
        var assignments = new List<Assignment>();
        var pos = text.StartsWith("\u00EF\u00BB\u00BF", StringComparison.Ordinal) ? 3 : 0; // a UTF-8 BOM, kept as it is
        var line = 1;
        while (pos < text.Length)
        {
            var start = SkipBlanks(text, pos);
            var lineEnd = text.IndexOf('\n', start) is var n and >= 0 ? n + 1 : text.Length;
            if (start >= text.Length || text[start] is '\n' or '\r' or '#' || ParseAssignment(text, start, line, path) is not { } assignment)
            {
                pos = lineEnd;
                line++;
                continue;
            }
            assignments.Add(assignment);
            var end = text.IndexOf('\n', assignment.ValueEnd) is var e and >= 0 ? e + 1 : text.Length;
            line += Count(text, '\n', pos, end);
            pos = end;
        }
        return new DotEnvFile(path, text, assignments);
    }

    /// <summary>
    /// The file's bytes with each key of <paramref name="values"/> given its new value, in every place it is assigned,
    /// in the quoting style it had: unquoted stays unquoted while the value needs no quotes (else it is single-quoted),
    /// double quotes stay double unless the value holds a <c>$</c>, and single quotes stay single. A value with a
    /// <c>$</c> is always single-quoted, so compose takes it literally instead of interpolating a variable.
    /// </summary>
    public byte[] With(IReadOnlyDictionary<string, string> values)
    {
        foreach (var key in values.Keys.Where(k => CountOf(k) == 0))
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Secrets.KeyNotFound",
                $"{key} is not assigned in {Path}; add it to the file first (PuoOps changes values, it does not add keys).", key);
        var result = new StringBuilder(_text.Length + 64);
        var copied = 0;
        foreach (var assignment in _assignments.Where(a => values.ContainsKey(a.Key)))
        {
            result.Append(_text, copied, assignment.ValueStart - copied);
            result.Append(Render(values[assignment.Key], assignment.Quote, assignment.Key));
            copied = assignment.ValueEnd;
        }
        result.Append(_text, copied, _text.Length - copied);
        return Bytes.GetBytes(result.ToString());
    }

    /// <summary>A value as it is written between <c>=</c> and the end of the value: quoted, escaped, UTF-8 as Latin-1 chars.</summary>
    internal static string Render(string value, char quote, string key)
    {
        if (value.Any(char.IsControl))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.UnwritableValue",
                $"The new value of {key} holds a control character (a line break?); it cannot be written to an .env file.", key);
        var raw = Bytes.GetString(Encoding.UTF8.GetBytes(value));
        var literal = value.Contains('$');
        if (quote == '"' && !literal)
            return "\"" + raw.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("`", "\\`") + "\"";
        if (quote == '\0' && !literal && raw.Length > 0 && raw.All(c => char.IsAsciiLetterOrDigit(c) || ShellSafe.Contains(c)))
            return raw;
        // Single quotes: compose (and python-dotenv) take the text literally, with no $ interpolation; only a quote or
        // backslash inside would be read differently by different readers.
        if (raw.Contains('\'') || raw.Contains('\\'))
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.UnwritableValue",
                $"The new value of {key} needs single quotes (it holds a $ or characters a shell would read) but also holds a quote or backslash, " +
                "which dotenv readers do not agree on. Choose another value.", key);
        return "'" + raw + "'";
    }

    private static Assignment? ParseAssignment(string text, int start, int line, string path)
    {
        var pos = start;
        if (string.CompareOrdinal(text, pos, "export", 0, 6) == 0 && pos + 6 < text.Length && text[pos + 6] is ' ' or '\t')
            pos = SkipBlanks(text, pos + 6);
        var keyStart = pos;
        while (pos < text.Length && (char.IsAsciiLetterOrDigit(text[pos]) || text[pos] is '_' or '.' or '-'))
            pos++;
        var key = text[keyStart..pos];
        pos = SkipBlanks(text, pos);
        if (key.Length == 0 || pos >= text.Length || text[pos] is not ('=' or ':'))
            return null; // not an assignment; kept as it is
        var valueStart = SkipBlanks(text, pos + 1);
        if (valueStart < text.Length && text[valueStart] is '"' or '\'')
        {
            var quote = text[valueStart];
            var close = valueStart + 1;
            while (close < text.Length && (text[close] != quote || text[close - 1] == '\\'))
                close++;
            if (close >= text.Length)
                throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Secrets.EnvFileSyntax",
                    $"{path}, line {line}: the quoted value of {key} is never closed. Fix the file; nothing was changed.", path);
            var inner = text[(valueStart + 1)..close];
            return new Assignment(key, valueStart, close + 1, quote, Decode(quote == '"' ? Unescape(inner) : inner.Replace("\\'", "'")));
        }
        // Unquoted: to the end of the line, trailing blanks and a " # comment" (a # after a blank) left out.
        var lineEnd = text.IndexOf('\n', valueStart) is var n and >= 0 ? n : text.Length;
        var valueEnd = valueStart;
        for (var i = valueStart; i < lineEnd && !(text[i] == '#' && text[i - 1] is ' ' or '\t'); i++)
        {
            if (!char.IsWhiteSpace(text[i]))
                valueEnd = i + 1;
        }
        if (valueEnd == valueStart)
            valueStart = valueEnd = pos + 1; // empty: a new value goes right after the =, before any " # comment"
        return new Assignment(key, valueStart, valueEnd, '\0', Decode(text[valueStart..valueEnd]));
    }

    /// <summary>The escapes compose resolves in double quotes: \n, \r, \t, and a backslash before any other character but $ is dropped.</summary>
    private static string Unescape(string inner)
    {
        var result = new StringBuilder(inner.Length);
        for (var i = 0; i < inner.Length; i++)
        {
            if (inner[i] != '\\' || i + 1 == inner.Length || inner[i + 1] == '$')
            {
                result.Append(inner[i]);
                continue;
            }
            var next = inner[++i];
            result.Append(next switch { 'n' => '\n', 'r' => '\r', 't' => '\t', _ => next });
        }
        return result.ToString();
    }

    private static string Decode(string latin1) => Encoding.UTF8.GetString(Bytes.GetBytes(latin1));

    private static int SkipBlanks(string text, int pos)
    {
        while (pos < text.Length && text[pos] is ' ' or '\t')
            pos++;
        return pos;
    }

    private static int Count(string text, char c, int from, int to)
    {
        var count = 0;
        for (var i = from; i < to; i++)
        {
            if (text[i] == c)
                count++;
        }
        return count;
    }

    /// <summary>One KEY=VALUE: where its value token (quotes included) starts and ends in the text, and the value it means.</summary>
    private sealed record Assignment(string Key, int ValueStart, int ValueEnd, char Quote, string Value);
}
