using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;

namespace PuoOps.Engine.Logs;

/// <summary>
/// What Find-PuoAuthFailure reads: the format (null: Regex with a pattern, else each line by its look, '{' is JSON,
/// else nginx), the regex for <see cref="AccessLogFormat.Regex"/>, the statuses wanted, the proxies whose forwarded-for header is
/// believed, and the time window (a request without a time is outside any window).
/// </summary>
public sealed record AccessLogOptions(
    AccessLogFormat? Format,
    Regex? Pattern,
    IReadOnlySet<int> Statuses,
    IReadOnlyList<IPNetwork> TrustedProxies,
    DateTimeOffset? Since = null,
    DateTimeOffset? Until = null,
    bool KeepLines = false)
{
    private readonly bool[] _wanted = Enumerable.Range(0, 1000).Select(Statuses.Contains).ToArray();

    /// <summary>Whether a status is looked for: a table lookup, as it runs once per line.</summary>
    internal bool Wants(int status) => (uint)status < (uint)_wanted.Length && _wanted[status];

    internal bool InWindow(DateTimeOffset? time) => LogTime.InWindow(time, Since, Until);
}

/// <summary>
/// Parses access log lines of the formats in <see cref="AccessLogFormat"/> from raw bytes. Only a line whose status
/// is wanted is decoded. A line that is not in its format is counted as malformed and skipped.
/// </summary>
public static partial class AccessLog
{
    /// <summary>The names of the groups a -Format Regex pattern may have; ip and status are required.</summary>
    public static readonly string[] RegexGroups = ["ip", "status", "time", "method", "path", "request", "useragent", "forwardedfor"];

    /// <summary>Creates the regex for -Format Regex, checking its named groups.</summary>
    public static Regex Pattern(string pattern)
    {
        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled | RegexOptions.ExplicitCapture);
        }
        catch (ArgumentException ex)
        {
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Logs.InvalidPattern",
                $"-Pattern '{pattern}' is not a valid regular expression: {ex.Message}", pattern, ex);
        }
        var groups = regex.GetGroupNames();
        var missing = new[] { "ip", "status" }.Where(g => !groups.Contains(g, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Logs.PatternGroups",
                $"-Pattern needs the named groups (?<ip>...) and (?<status>...); it lacks {string.Join(" and ", missing)}. " +
                $"It may also have {string.Join(", ", RegexGroups.Skip(2))}.", pattern);
        return regex;
    }

    /// <summary>A -TrustedProxy entry: an address or a CIDR block.</summary>
    public static IPNetwork ParseNetwork(string text)
    {
        if (IPNetwork.TryParse(text.Trim(), out var network))
            return network;
        if (IPAddress.TryParse(text.Trim(), out var address))
        {
            address = Normalize(address);
            return new IPNetwork(address, address.GetAddressBytes().Length * 8);
        }
        throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Logs.InvalidProxy",
            $"-TrustedProxy '{text}' is neither an IP address nor a CIDR block such as 10.0.0.0/8 or fd00::/8.", text);
    }

    /// <summary>One wanted request of a chunk; <see cref="Index"/> counts from the chunk's first line (0).</summary>
    internal readonly record struct Entry(long Index, DateTimeOffset? Time, string IpAddress, string RemoteAddress, int Status,
        string? Method, string? Path, string? UserAgent, string? Line);

    internal sealed record ChunkResult(List<Entry> Entries, long Malformed);

    private enum Parsed
    {
        Malformed,
        NotWanted,
        Wanted,
    }

    /// <summary>What the chunks of one file share: the texts and the client addresses decoded so far.</summary>
    internal sealed class SharedTexts
    {
        // Slots for several times the distinct addresses an incident log typically has (thousands), and for the
        // methods, paths and user agents, which repeat far more; a few MB at most.
        public readonly TextCache Addresses = new(1 << 14);
        public readonly TextCache Texts = new(1 << 12);
    }

    internal static ChunkResult Scan(ReadOnlySpan<byte> bytes, AccessLogOptions options, SharedTexts texts)
    {
        if (options.Format is null or AccessLogFormat.Nginx && options.Pattern is null && ScanStatusFields(bytes, options, texts) is { } fast)
            return fast;
        var reader = new LineReader(options, texts);
        var index = 0L;
        for (var start = 0; start < bytes.Length; index++)
        {
            var stop = LineEnd(bytes, start);
            reader.Read(bytes[start..stop], index);
            start = stop + 1;
        }
        return reader.Result;
    }

    /// <summary>
    /// The fast path for nginx: one vectorized pass finds every status field of the chunk and counts its lines. With
    /// exactly one field per line, no line can be malformed for lack of one, and only the lines with a wanted status
    /// are read; otherwise null, and the caller reads the chunk line by line.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per chunk: skip the slow first JIT tier
    private static ChunkResult? ScanStatusFields(ReadOnlySpan<byte> bytes, AccessLogOptions options, SharedTexts texts)
    {
        var wanted = new List<NginxStatusFields.Field>();
        var (fields, lines) = NginxStatusFields.Find(bytes, options, wanted);
        if (fields != lines)
            return null;
        var reader = new LineReader(options, texts);
        var previous = -1;
        foreach (var field in wanted)
        {
            if (field.Line == previous)
                continue; // a second status-like field in the same line
            previous = field.Line;
            reader.Read(bytes[(bytes[..field.Position].LastIndexOf((byte)'\n') + 1)..LineEnd(bytes, field.Position)], field.Line);
        }
        return reader.Result;
    }

    /// <summary>What a request line says, before its client is worked out.</summary>
    private readonly record struct Request(DateTimeOffset? Time, string Remote, string? Forwarded, int Status, string? Method, string? Path, string? Agent);

    /// <summary>
    /// Reads the lines of one chunk, each in its format (by its look when none is given), keeping the wanted requests
    /// and counting the malformed lines. Texts that repeat (addresses, user agents, paths) come from <paramref name="texts"/>;
    /// times repeat within the same second, and are parsed again only when they change.
    /// </summary>
    private sealed partial class LineReader(AccessLogOptions options, SharedTexts texts)
    {
        private readonly List<Entry> _entries = [];
        private readonly byte[] _lastTime = new byte[40];
        private int _lastTimeLength = -1;
        private DateTimeOffset? _time;
        private long _malformed;

        public ChunkResult Result => new(_entries, _malformed);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Read(ReadOnlySpan<byte> line, long index)
        {
            line = LogSearch.TrimCarriageReturn(line);
            var first = line.IndexOfAnyExcept((byte)' ', (byte)'\t');
            if (first < 0)
                return; // an empty line
            Request request;
            var format = options.Format ?? (options.Pattern is not null ? AccessLogFormat.Regex : line[first] == (byte)'{' ? AccessLogFormat.Json : AccessLogFormat.Nginx);
            var parsed = format switch
            {
                AccessLogFormat.Nginx => ParseNginx(line, out request),
                AccessLogFormat.Json => ParseJson(line[first..], out request),
                _ => ParseRegex(line, out request),
            };
            if (parsed == Parsed.Malformed)
                _malformed++;
            else if (parsed == Parsed.Wanted && options.InWindow(request.Time))
                _entries.Add(new Entry(index, request.Time, Client(request.Remote, request.Forwarded, options), request.Remote, request.Status,
                    request.Method, request.Path, request.Agent, options.KeepLines ? Encoding.UTF8.GetString(line) : null));
        }

        /// <summary>
        /// <c>$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
        /// "$http_user_agent"</c>, optionally followed by <c>"$http_x_forwarded_for"</c>. nginx escapes '"' inside
        /// fields as \x22, so the first '" ' ends the request and the status follows it.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private Parsed ParseNginx(ReadOnlySpan<byte> line, out Request request)
        {
            request = default;
            var requestEnd = line.IndexOf("\" "u8);
            if (requestEnd < 0 || requestEnd + 6 > line.Length || line[requestEnd + 5] != (byte)' '
                || !TryStatus(line.Slice(requestEnd + 2, 3), out var status))
                return Parsed.Malformed;
            if (!options.Wants(status))
                return Parsed.NotWanted;
            var addressEnd = line.IndexOf((byte)' ');
            var timeStart = line.IndexOf(" ["u8);
            var requestStart = line[..requestEnd].IndexOf("] \""u8);
            if (addressEnd <= 0 || timeStart < addressEnd || requestStart < timeStart || texts.Addresses.Get(line[..addressEnd], Address) is not { } remote)
                return Parsed.Malformed;
            var (method, path) = SplitRequest(line[(requestStart + 3)..requestEnd]);
            // After the status: the body size, then the quoted referer, user agent and forwarded-for.
            var rest = line[(requestEnd + 5)..];
            Span<Range> quoted = stackalloc Range[3];
            var fields = QuotedFields(rest, quoted);
            request = new Request(Time(line[(timeStart + 1)..(requestStart + 1)]), remote, fields >= 3 ? FieldText(rest[quoted[2]]) : null, status,
                method, path, fields >= 2 ? FieldText(rest[quoted[1]]) : null);
            return Parsed.Wanted;
        }

        private Parsed ParseRegex(ReadOnlySpan<byte> line, out Request request)
        {
            request = default;
            var match = options.Pattern!.Match(Encoding.UTF8.GetString(line));
            if (!match.Success || !int.TryParse(match.Groups["status"].ValueSpan, out var status))
                return Parsed.Malformed;
            if (!options.Wants(status))
                return Parsed.NotWanted;
            if (texts.Addresses.Get(Encoding.UTF8.GetBytes(match.Groups["ip"].Value), Address) is not { } remote)
                return Parsed.Malformed;
            string? Group(string name) => match.Groups[name] is { Success: true } g ? g.Value : null;
            var time = Group("time") is { } text && LogTime.TryFind(text, out var t) ? t : (DateTimeOffset?)null;
            var (method, path) = Group("path") is { } p ? (Group("method"), PathOf(p)) : SplitRequest(Group("request"));
            request = new Request(time, remote, Dash(Group("forwardedfor")), status, Group("method") ?? method, path, Dash(Group("useragent")));
            return Parsed.Wanted;
        }

        /// <summary>nginx's $time_local; requests of the same second share it, so it is parsed again only when it changes.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private DateTimeOffset? Time(ReadOnlySpan<byte> text)
        {
            if (text.Length == _lastTimeLength && text.SequenceEqual(_lastTime.AsSpan(0, _lastTimeLength)))
                return _time;
            Span<char> chars = stackalloc char[Math.Min(64, text.Length)];
            for (var i = 0; i < chars.Length; i++)
                chars[i] = (char)text[i];
            _time = LogTime.TryFind(chars, out var time) ? time : null;
            _lastTimeLength = text.Length <= _lastTime.Length ? text.Length : -1;
            if (_lastTimeLength >= 0)
                text.CopyTo(_lastTime);
            return _time;
        }

        /// <summary>"GET /path?q HTTP/1.1" to its method and path (without the query).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private (string? Method, string? Path) SplitRequest(ReadOnlySpan<byte> request)
        {
            var space = request.IndexOf((byte)' ');
            if (space <= 0)
                return (null, FieldText(request)); // "-", or bytes that are no request (a TLS handshake on a plain port)
            var target = request[(space + 1)..];
            if (target.IndexOf((byte)' ') is >= 0 and var end)
                target = target[..end];
            if (target.StartsWith("http"u8))
                return (Text(request[..space]), PathOf(Encoding.UTF8.GetString(target)));
            return (Text(request[..space]), Text(target.IndexOf((byte)'?') is >= 0 and var q ? target[..q] : target));
        }

        private (string? Method, string? Path) SplitRequest(string? request) =>
            request is null ? (null, null) : SplitRequest(Encoding.UTF8.GetBytes(request));

        /// <summary>A field's text; null for nginx's "-" (empty).</summary>
        private string? FieldText(ReadOnlySpan<byte> text) => text.IsEmpty || text.SequenceEqual("-"u8) ? null : Text(text);

        private string Text(ReadOnlySpan<byte> bytes) => texts.Texts.Get(bytes, static b => Encoding.UTF8.GetString(b))!;
    }

    private static int LineEnd(ReadOnlySpan<byte> bytes, int position)
    {
        var newline = bytes[position..].IndexOf((byte)'\n');
        return newline < 0 ? bytes.Length : position + newline;
    }

    /// <summary>
    /// The client of a request: the connecting address, unless that is a trusted proxy; then the forwarded-for
    /// list is walked from the right past the trusted proxies, and the first other address is the client.
    /// </summary>
    private static string Client(string remote, string? forwarded, AccessLogOptions options)
    {
        if (forwarded is null || options.TrustedProxies.Count == 0 || !IsTrusted(IPAddress.Parse(remote), options))
            return remote;
        var client = remote;
        var hops = forwarded.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var i = hops.Length - 1; i >= 0; i--)
        {
            if (!TryForwardedAddress(hops[i], out var hop))
                break; // garbage in the header: believe only the hops to its right
            client = hop.ToString();
            if (!IsTrusted(hop, options))
                break;
        }
        return client;
    }

    private static bool IsTrusted(IPAddress address, AccessLogOptions options)
    {
        foreach (var network in options.TrustedProxies)
        {
            if (network.Contains(address))
                return true;
        }
        return false;
    }

    /// <summary>A forwarded-for entry: an address, maybe with a port (1.2.3.4:5678, [2001:db8::1]:443).</summary>
    private static bool TryForwardedAddress(string hop, out IPAddress address)
    {
        var text = hop.AsSpan();
        if (text.StartsWith("[") && text.IndexOf(']') is > 0 and var close)
            text = text[1..close];
        else if (text.Count(':') == 1)
            text = text[..text.IndexOf(':')];
        var ok = IPAddress.TryParse(text, out var parsed);
        address = ok ? Normalize(parsed!) : IPAddress.None;
        return ok;
    }

    /// <summary>
    /// A client address as the one text the totals group by: IPv6 in its short form, ::ffff:a.b.c.d as a.b.c.d; null if
    /// it is none. An IPv4 address already written that way (as nginx writes it) is taken as it is, without a parse.
    /// </summary>
    private static string? Address(ReadOnlySpan<byte> text)
    {
        if (text.Length is 0 or > 64)
            return null;
        if (IsPlainIPv4(text))
            return Encoding.ASCII.GetString(text);
        Span<char> chars = stackalloc char[text.Length];
        for (var i = 0; i < text.Length; i++)
            chars[i] = (char)text[i];
        return IPAddress.TryParse(chars, out var parsed) ? Normalize(parsed).ToString() : null;
    }

    /// <summary>Four decimal parts of 0 to 255 without leading zeros: the form IPAddress.ToString writes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsPlainIPv4(ReadOnlySpan<byte> text)
    {
        var parts = 0;
        var value = 0;
        var digits = 0;
        foreach (var b in text)
        {
            if (b == (byte)'.')
            {
                if (digits == 0 || ++parts > 3)
                    return false;
                (value, digits) = (0, 0);
            }
            else if (b is >= (byte)'0' and <= (byte)'9' && !(digits == 1 && value == 0))
            {
                value = value * 10 + (b - '0');
                if (++digits > 3 || value > 255)
                    return false;
            }
            else
            {
                return false;
            }
        }
        return parts == 3 && digits > 0;
    }

    /// <summary>IPv4 clients of a dual-stack socket show as ::ffff:a.b.c.d; they are the IPv4 address.</summary>
    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static bool TryStatus(ReadOnlySpan<byte> digits, out int status)
    {
        status = 0;
        foreach (var d in digits)
        {
            if (d is < (byte)'0' or > (byte)'9')
                return false;
            status = status * 10 + (d - '0');
        }
        return true;
    }

    /// <summary>Finds up to <paramref name="fields"/>.Length double-quoted fields; returns how many.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int QuotedFields(ReadOnlySpan<byte> text, Span<Range> fields)
    {
        var count = 0;
        var p = 0;
        while (count < fields.Length)
        {
            var open = text[p..].IndexOf((byte)'"');
            if (open < 0)
                break;
            open += p + 1;
            var close = text[open..].IndexOf((byte)'"');
            if (close < 0)
                break;
            fields[count++] = open..(open + close);
            p = open + close + 1;
        }
        return count;
    }

    /// <summary>The path of a request target, without the query (which may carry tokens) or a full URL's scheme and host.</summary>
    private static string PathOf(string target)
    {
        if (target.StartsWith("http", StringComparison.OrdinalIgnoreCase) && Uri.TryCreate(target, UriKind.Absolute, out var uri))
            return uri.AbsolutePath;
        return target.IndexOf('?') is >= 0 and var q ? target[..q] : target;
    }

    /// <summary>nginx writes "-" for an empty field.</summary>
    private static string? Dash(string? text) => text is null or "-" or "" ? null : text;
}
