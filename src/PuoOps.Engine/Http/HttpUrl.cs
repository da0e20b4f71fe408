namespace PuoOps.Engine.Http;

/// <summary>The one rule for a URL the module sends HTTP requests to: absolute, http:// or https://.</summary>
public static class HttpUrl
{
    public static bool TryParse(string? text, out Uri url) =>
        Uri.TryCreate(text, UriKind.Absolute, out url!) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps);

    /// <summary>The URL as output, errors and Verbose show it: a password in it is replaced by ***.</summary>
    public static string Display(Uri url)
    {
        if (!url.UserInfo.Contains(':'))
            return url.ToString();
        return new UriBuilder(url) { Password = "***" }.Uri.ToString();
    }

    /// <summary>The URL, or InvalidArgument <paramref name="errorId"/> naming the parameter and the text.</summary>
    public static Uri Parse(string text, string errorId, string parameter) =>
        TryParse(text, out var url) ? url
            : throw new PuoException(ErrorKind.InvalidArgument, errorId, $"{parameter} '{text}' is not an absolute http:// or https:// URL.", text);
}
