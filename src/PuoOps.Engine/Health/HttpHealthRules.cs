using System.Globalization;
using System.Text;
using System.Text.Json;
using PuoOps.Engine.Http;

namespace PuoOps.Engine.Health;

/// <summary>
/// Judges one HTTP answer by Gatus-like conditions: the status code must be expected (any 2xx unless told), the
/// body's JSON field must have one of the accepted values (when a field is named), and an https certificate that
/// expires soon is a Warning. Answer time is judged by the caller, the same way for every kind of check.
/// </summary>
internal sealed class HttpHealthRules(IReadOnlyList<int>? expectedStatusCodes, string? jsonField, IReadOnlyList<string> jsonValues,
    TimeSpan certificateExpiryWarning)
{
    public Verdict Judge(HttpAnswer answer, DateTimeOffset now)
    {
        var expires = answer.Certificate?.NotAfter;
        Verdict Verdict(Status status, string detail) => new(status, detail, answer.Elapsed, answer.StatusCode, expires);

        var code = $"HTTP {answer.StatusCode}{(answer.ReasonPhrase.Length > 0 ? " " + answer.ReasonPhrase : "")}";
        if (!IsExpected(answer.StatusCode))
            return Verdict(Status.Critical, $"{code}, expected {ExpectedText()}.{Snippet(answer.Body, " Body: ")}");
        var detail = code;
        if (jsonField is not null)
        {
            var (fieldOk, fieldText) = JudgeJson(answer.Body);
            if (!fieldOk)
                return Verdict(Status.Critical, $"{code}, but {fieldText}");
            detail += "; " + fieldText;
        }
        if (expires is { } notAfter)
        {
            var left = notAfter - now;
            if (left < certificateExpiryWarning)
                return Verdict(Status.Warning, $"{detail}; the TLS certificate expires in {Days(left)} ({notAfter:yyyy-MM-dd} UTC). Renew it.");
            detail += $"; certificate valid until {notAfter:yyyy-MM-dd}";
        }
        return Verdict(Status.OK, detail + ".");
    }

    private bool IsExpected(int statusCode) =>
        expectedStatusCodes is null ? statusCode is >= 200 and <= 299 : expectedStatusCodes.Contains(statusCode);

    private string ExpectedText() => expectedStatusCodes is null ? "2xx" : string.Join(" or ", expectedStatusCodes);

    /// <summary>Whether the field has an accepted value, and what was found, said for an operator.</summary>
    private (bool Ok, string Text) JudgeJson(byte[] body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return (false, $"the body is not JSON.{Snippet(body, " It starts: ")}");
        }
        using (document)
        {
            var element = document.RootElement;
            foreach (var part in jsonField!.Split('.'))
            {
                if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(part, out element))
                    return (false, $"the body has no '{jsonField}' field.{Snippet(body, " Body: ")}");
            }
            var value = element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();
            var accepted = jsonValues.Any(v => string.Equals(v, value, StringComparison.OrdinalIgnoreCase));
            return accepted
                ? (true, $"{jsonField} is \"{value}\"")
                : (false, $"{jsonField} is \"{value}\", expected {string.Join(", ", jsonValues.Select(v => $"\"{v}\""))}.");
        }
    }

    private static string Days(TimeSpan left) =>
        left <= TimeSpan.Zero ? "0 days (it has expired)" : left.TotalDays >= 2 ? $"{(int)left.TotalDays} days" : $"{left.TotalHours:0} hours";

    /// <summary>The start of a body, on one line, for a message (empty when there is no body).</summary>
    internal static string Snippet(byte[] body, string prefix)
    {
        if (body.Length == 0)
            return "";
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 400));
        var oneLine = string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return prefix + (oneLine.Length > 80 ? oneLine[..80] + "..." : oneLine);
    }
}
