using System.Text;
using System.Text.Json;

namespace PuoOps.Engine.Logs;

/// <summary>JSON lines: one object per line, as the API server's structured log writes its requests.</summary>
public static partial class AccessLog
{
    private sealed partial class LineReader
    {
        /// <summary>A JSON object per line; the fields are found by their usual names (see <see cref="JsonField"/>).</summary>
        private Parsed ParseJson(ReadOnlySpan<byte> line, out Request request)
        {
            request = default;
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
            if (fields.Status is not { } code || fields.Address is null || !options.Wants(code))
                return Parsed.NotWanted; // another status, or an event that is not a request
            if (texts.Addresses.Get(Encoding.UTF8.GetBytes(fields.Address), Address) is not { } remote)
                return Parsed.Malformed;
            var (method, path) = fields.Path is null ? SplitRequest(fields.Request) : (fields.Method, PathOf(fields.Path));
            request = new Request(fields.Time, remote, fields.Forwarded, code, fields.Method ?? method, path, fields.UserAgent);
            return Parsed.Wanted;
        }

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
}
