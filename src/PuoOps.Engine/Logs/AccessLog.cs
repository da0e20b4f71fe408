using System.Net;
using System.Text;
using System.Text.Json;
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
    internal bool InWindow(DateTimeOffset? time) =>
        (Since is null && Until is null) || (time is { } t && (Since is not { } s || t >= s) && (Until is not { } u || t <= u));
}

/// <summary>
/// Parses access log lines of the formats in <see cref="AccessLogFormat"/> from raw bytes. Only a line whose
/// status is wanted is decoded; every other line costs a search for its status field. A line that is not in
/// its format is counted as malformed and skipped.
/// </summary>
public static class AccessLog
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
    internal sealed record Entry(long Index, DateTimeOffset? Time, string IpAddress, string RemoteAddress, int Status,
        string? Method, string? Path, string? UserAgent, string? Line);

    internal sealed record ChunkResult(List<Entry> Entries, long Malformed);

    internal static ChunkResult Scan(ReadOnlySpan<byte> bytes, AccessLogOptions options)
    {
        var entries = new List<Entry>();
        var malformed = 0L;
        var index = 0L;
        for (var start = 0; start < bytes.Length; index++)
        {
            var newline = bytes[start..].IndexOf((byte)'\n');
            var stop = newline < 0 ? bytes.Length : start + newline;
            var line = LogSearch.TrimCarriageReturn(bytes[start..stop]);
            start = stop + 1;
            var first = line.IndexOfAnyExcept((byte)' ', (byte)'\t');
            if (first < 0)
                continue; // an empty line
            Entry? entry = null;
            var format = options.Format ?? (options.Pattern is not null ? AccessLogFormat.Regex : line[first] == (byte)'{' ? AccessLogFormat.Json : AccessLogFormat.Nginx);
            var parsed = format switch
            {
                AccessLogFormat.Nginx => ParseNginx(line, options, out entry),
                AccessLogFormat.Json => ParseJson(line[first..], options, out entry),
                _ => ParseRegex(line, options, out entry),
            };
            if (parsed == Parsed.Malformed)
                malformed++;
            else if (parsed == Parsed.Wanted && options.InWindow(entry!.Time))
                entries.Add(entry with { Index = index, Line = options.KeepLines ? Encoding.UTF8.GetString(line) : null });
        }
        return new ChunkResult(entries, malformed);
    }

    private enum Parsed
    {
        Malformed,
        NotWanted,
        Wanted,
    }

    /// <summary>
    /// <c>$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer"
    /// "$http_user_agent"</c>, optionally followed by <c>"$http_x_forwarded_for"</c>. nginx escapes '"' inside
    /// fields as \x22, so the first '" ' ends the request and the status follows it.
    /// </summary>
    private static Parsed ParseNginx(ReadOnlySpan<byte> line, AccessLogOptions options, out Entry? entry)
    {
        entry = null;
        var requestEnd = line.IndexOf("\" "u8);
        if (requestEnd < 0 || requestEnd + 6 > line.Length || line[requestEnd + 5] != (byte)' '
            || !TryStatus(line.Slice(requestEnd + 2, 3), out var status))
            return Parsed.Malformed;
        if (!options.Statuses.Contains(status))
            return Parsed.NotWanted;
        var addressEnd = line.IndexOf((byte)' ');
        var timeStart = line.IndexOf(" ["u8);
        var requestStart = line[..requestEnd].IndexOf("] \""u8);
        if (addressEnd <= 0 || timeStart < addressEnd || requestStart < timeStart || !TryAddress(line[..addressEnd], out var remote))
            return Parsed.Malformed;
        DateTimeOffset? time = LogTime.TryFind(Ascii(line[(timeStart + 1)..(requestStart + 1)]), out var t) ? t : null;
        var (method, path) = SplitRequest(Encoding.UTF8.GetString(line[(requestStart + 3)..requestEnd]));
        // After the status: the body size, then the quoted referer, user agent and forwarded-for.
        var rest = line[(requestEnd + 5)..];
        Span<Range> quoted = stackalloc Range[3];
        var fields = QuotedFields(rest, quoted);
        var agent = fields >= 2 ? Encoding.UTF8.GetString(rest[quoted[1]]) : null;
        var forwarded = fields >= 3 ? Encoding.UTF8.GetString(rest[quoted[2]]) : null;
        entry = new Entry(0, time, Client(remote, Dash(forwarded), options), remote.ToString(), status, method, path, Dash(agent), null);
        return Parsed.Wanted;
    }

    /// <summary>A JSON object per line; the fields are found by their usual names (see <see cref="JsonField"/>).</summary>
    private static Parsed ParseJson(ReadOnlySpan<byte> line, AccessLogOptions options, out Entry? entry)
    {
        entry = null;
        if (line[0] != (byte)'{')
            return Parsed.Malformed;
        // Cheap test first: a line that does not even contain a wanted status's digits cannot be wanted.
        var candidate = false;
        Span<byte> digits = stackalloc byte[3];
        foreach (var status in options.Statuses)
        {
            digits[0] = (byte)('0' + status / 100);
            digits[1] = (byte)('0' + status / 10 % 10);
            digits[2] = (byte)('0' + status % 10);
            candidate |= line.IndexOf(digits) >= 0;
        }
        if (!candidate)
            return Parsed.NotWanted;
        var fields = new JsonFields();
        try
        {
            var reader = new Utf8JsonReader(line);
            fields.Read(ref reader);
        }
        catch (JsonException)
        {
            return Parsed.Malformed;
        }
        if (fields.Status is not { } code || fields.Address is null || !options.Statuses.Contains(code))
            return Parsed.NotWanted; // another status, or an event that is not a request
        if (!TryAddress(Encoding.UTF8.GetBytes(fields.Address), out var remote))
            return Parsed.Malformed;
        var (method, path) = fields.Path is null ? SplitRequest(fields.Request) : (fields.Method, (string?)PathOf(fields.Path));
        entry = new Entry(0, fields.Time, Client(remote, fields.Forwarded, options), remote.ToString(), code, fields.Method ?? method, path,
            fields.UserAgent, null);
        return Parsed.Wanted;
    }

    private static Parsed ParseRegex(ReadOnlySpan<byte> line, AccessLogOptions options, out Entry? entry)
    {
        entry = null;
        var match = options.Pattern!.Match(Encoding.UTF8.GetString(line));
        if (!match.Success || !int.TryParse(match.Groups["status"].ValueSpan, out var status))
            return Parsed.Malformed;
        if (!options.Statuses.Contains(status))
            return Parsed.NotWanted;
        if (!TryAddress(Encoding.UTF8.GetBytes(match.Groups["ip"].Value), out var remote))
            return Parsed.Malformed;
        string? Group(string name) => match.Groups[name] is { Success: true } g ? g.Value : null;
        var time = Group("time") is { } text && LogTime.TryFind(text, out var t) ? t : (DateTimeOffset?)null;
        var (method, path) = Group("path") is { } p ? (Group("method"), (string?)PathOf(p)) : SplitRequest(Group("request"));
        entry = new Entry(0, time, Client(remote, Dash(Group("forwardedfor")), options), remote.ToString(), status, Group("method") ?? method, path,
            Dash(Group("useragent")), null);
        return Parsed.Wanted;
    }

    /// <summary>
    /// The client of a request: the connecting address, unless that is a trusted proxy; then the forwarded-for
    /// list is walked from the right past the trusted proxies, and the first other address is the client.
    /// </summary>
    private static string Client(IPAddress remote, string? forwarded, AccessLogOptions options)
    {
        var client = remote;
        if (forwarded is null || !IsTrusted(remote, options))
            return client.ToString();
        var hops = forwarded.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        for (var i = hops.Length - 1; i >= 0; i--)
        {
            if (!TryForwardedAddress(hops[i], out var hop))
                break; // garbage in the header: believe only the hops to its right
            client = hop;
            if (!IsTrusted(hop, options))
                break;
        }
        return client.ToString();
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

    private static bool TryAddress(ReadOnlySpan<byte> text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Length is 0 or > 64)
            return false;
        Span<char> chars = stackalloc char[text.Length];
        for (var i = 0; i < text.Length; i++)
            chars[i] = (char)text[i];
        if (!IPAddress.TryParse(chars, out var parsed))
            return false;
        address = Normalize(parsed);
        return true;
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

    private static string Ascii(ReadOnlySpan<byte> text) => Encoding.ASCII.GetString(text);

    /// <summary>"GET /path?q HTTP/1.1" to its method and path (without the query).</summary>
    private static (string? Method, string? Path) SplitRequest(string? request)
    {
        if (request is null)
            return (null, null);
        var parts = request.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 ? (parts[0], PathOf(parts[1])) : (null, Dash(request));
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

    /// <summary>The fields of a JSON access log line, by the names structured loggers commonly give them.</summary>
    private sealed class JsonFields
    {
        public string? Address, Forwarded, Method, Path, Request, UserAgent;
        public int? Status;
        public DateTimeOffset? Time;

        public void Read(ref Utf8JsonReader reader)
        {
            var path = new List<string>();
            string? property = null;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        property = reader.GetString();
                        break;
                    case JsonTokenType.StartObject:
                        if (property is not null)
                            path.Add(property);
                        property = null;
                        break;
                    case JsonTokenType.EndObject:
                        if (path.Count > 0)
                            path.RemoveAt(path.Count - 1);
                        break;
                    case JsonTokenType.StartArray:
                        reader.Skip();
                        property = null;
                        break;
                    case JsonTokenType.String or JsonTokenType.Number when property is not null:
                        Take(JsonField(path, property), ref reader);
                        property = null;
                        break;
                    default:
                        property = null;
                        break;
                }
            }
        }

        private void Take(string field, ref Utf8JsonReader reader)
        {
            var isNumber = reader.TokenType == JsonTokenType.Number;
            switch (field)
            {
                case "status":
                    Status ??= isNumber ? reader.TryGetInt32(out var n) ? n : null : int.TryParse(reader.GetString(), out var s) ? s : null;
                    break;
                case "time":
                    Time ??= isNumber ? FromEpoch(reader.GetDouble()) : LogTime.TryFind(reader.GetString(), out var t) ? t : null;
                    break;
                case "address" when !isNumber:
                    Address ??= reader.GetString();
                    break;
                case "forwarded" when !isNumber:
                    Forwarded ??= reader.GetString();
                    break;
                case "method" when !isNumber:
                    Method ??= reader.GetString();
                    break;
                case "path" when !isNumber:
                    Path ??= reader.GetString();
                    break;
                case "request" when !isNumber:
                    Request ??= reader.GetString();
                    break;
                case "useragent" when !isNumber:
                    UserAgent ??= reader.GetString();
                    break;
            }
        }

        /// <summary>Unix time in seconds, or in milliseconds when too large for seconds.</summary>
        private static DateTimeOffset? FromEpoch(double value) =>
            value switch
            {
                > 1e11 and < 1e14 => DateTimeOffset.FromUnixTimeMilliseconds((long)value),
                > 0 and <= 1e11 => DateTimeOffset.FromUnixTimeMilliseconds((long)(value * 1000)),
                _ => null,
            };
    }

    /// <summary>
    /// Which access log field a JSON property is, by its dotted path with case, '_' and '-' ignored
    /// (client_ip, remoteAddr, client.ip, http.response.status_code, user_agent.original, ...); "" for none.
    /// </summary>
    private static string JsonField(List<string> parents, string property)
    {
        var name = string.Join('.', parents.Append(property)).Replace("_", "").Replace("-", "").ToLowerInvariant();
        return name switch
        {
            "ip" or "clientip" or "client" or "clientaddr" or "clientaddress" or "remoteaddr" or "remoteaddress" or "remoteip"
                or "client.ip" or "client.address" or "source.ip" or "source.address" or "request.remoteaddr" or "request.clientip" => "address",
            "status" or "statuscode" or "httpstatus" or "responsestatus" or "responsecode" or "http.response.statuscode"
                or "response.status" or "response.statuscode" or "http.statuscode" => "status",
            "timestamp" or "time" or "ts" or "@timestamp" or "datetime" or "asctime" or "date" => "time",
            "method" or "requestmethod" or "httpmethod" or "http.request.method" or "request.method" => "method",
            "path" or "requestpath" or "urlpath" or "uri" or "requesturi" or "url" or "url.path" or "request.path" or "request.url"
                or "request.uri" or "http.url" => "path",
            "request" => "request",
            "useragent" or "httpuseragent" or "ua" or "useragent.original" or "request.useragent" or "headers.useragent"
                or "request.headers.useragent" => "useragent",
            "xforwardedfor" or "forwardedfor" or "httpxforwardedfor" or "xff" or "headers.xforwardedfor"
                or "request.headers.xforwardedfor" => "forwarded",
            _ => "",
        };
    }
}
