using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PuoOps.Engine.Http;

/// <summary>
/// The environment's one HttpClient, on one SocketsHttpHandler, created on first use and disposed with the
/// environment: every HTTP call of the module (health checks, metrics scrapes, latency runs) goes through it, so
/// connections are pooled per environment. Each call is bounded by the context's timeout (connect and request
/// together) and Ctrl+C. The TLS certificate each new connection presented is remembered per host and port, so a
/// check can judge its expiry whether the connection was opened by this request or an earlier one.
/// </summary>
internal sealed class HttpConnections : IDisposable
{
    /// <summary>How much of a body a check or scrape reads at most; a larger answer is cut there and said so.</summary>
    public const int MaxBodyBytes = 16 * 1024 * 1024;

    private readonly ConcurrentDictionary<string, TlsCertificate> _certificates = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, TlsCertificate> _refused = new(StringComparer.OrdinalIgnoreCase);

    private HttpConnections()
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.All,
            UseCookies = false,
            // Every call bounds its own connect by -TimeoutSec through its token; this only ends a connect attempt
            // that no call waits for any more (the pool keeps those going), instead of leaving it to the OS.
            ConnectTimeout = TimeSpan.FromMinutes(2),
            // Pick up DNS changes (a blue/green switch behind a name) instead of pinning a connection forever.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxAutomaticRedirections = 5,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Validate },
            PlaintextStreamFilter = RememberCertificate,
        };
        Client = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        Client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("PuoOps", typeof(HttpConnections).Assembly.GetName().Version?.ToString(3)));
    }

    public HttpClient Client { get; }

    /// <summary>The environment's one client, created on first use.</summary>
    public static Task<HttpConnections> ForAsync(OperationContext ctx) =>
        ctx.Environment.GetClientAsync("http", () => Task.FromResult(new HttpConnections()));

    /// <summary>
    /// Sends a GET and reads up to <see cref="MaxBodyBytes"/> of the body, bounded by the context's timeout and
    /// Ctrl+C. Any status code is an answer; failures to get one (refused, DNS, TLS, timeout) become a
    /// <see cref="PuoException"/> naming the URL. With <paramref name="closeConnection"/> the connection is closed
    /// after the answer, so the next call opens a new one (a probe that must not ride on a connection opened before a reload).
    /// </summary>
    public static async Task<HttpAnswer> GetAsync(OperationContext ctx, Uri url, string? accept = null, bool closeConnection = false)
    {
        var connections = await ForAsync(ctx).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        timeout.CancelAfter(ctx.Timeout);
        var watch = Stopwatch.StartNew();
        try
        {
            using var request = Get(url);
            if (accept is not null)
                request.Headers.TryAddWithoutValidation("Accept", accept);
            request.Headers.ConnectionClose = closeConnection ? true : null;
            using var response = await connections.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var (body, truncated) = await ReadBodyAsync(response, timeout.Token).ConfigureAwait(false);
            return new HttpAnswer(url, (int)response.StatusCode, response.ReasonPhrase ?? "", response.Content.Headers.ContentType?.MediaType,
                body, truncated, watch.Elapsed, connections.CertificateOf(response.RequestMessage?.RequestUri ?? url));
        }
        catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
        {
            throw ErrorTranslator.TranslateHttp(ex, url, ctx.TimeoutSeconds, timeout.IsCancellationRequested, connections.RefusedCertificateOf(url));
        }
    }

    /// <summary>Sends a GET, reads and drops the body; the status code, or the failure. For load: nothing is kept.</summary>
    public async Task<int> ProbeAsync(Uri url, byte[] scratch, CancellationToken token)
    {
        using var request = Get(url);
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
        while (await stream.ReadAsync(scratch, token).ConfigureAwait(false) > 0)
        {
        }
        return (int)response.StatusCode;
    }

    /// <summary>A GET of <paramref name="url"/>; user and password in it are sent as Basic authentication, as curl does.</summary>
    private static HttpRequestMessage Get(Uri url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (url.UserInfo.Length > 0)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Uri.UnescapeDataString(url.UserInfo))));
        return request;
    }

    /// <summary>The certificate the last TLS connection to this URL's host and port presented; null for http or none yet.</summary>
    public TlsCertificate? CertificateOf(Uri url) =>
        url.Scheme == Uri.UriSchemeHttps && _certificates.TryGetValue(url.Authority, out var certificate) ? certificate : null;

    /// <summary>The last certificate of this URL's host that failed validation (known by host only: the TLS callback sees no port).</summary>
    public TlsCertificate? RefusedCertificateOf(Uri url) =>
        url.Scheme == Uri.UriSchemeHttps && _refused.TryGetValue(url.Host, out var certificate) ? certificate : null;

    private static async Task<(byte[] Body, bool Truncated)> ReadBodyAsync(HttpResponseMessage response, CancellationToken token)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk, token).ConfigureAwait(false)) > 0)
        {
            var room = MaxBodyBytes - (int)buffer.Length;
            buffer.Write(chunk, 0, Math.Min(read, room));
            if (read > room)
                return (buffer.ToArray(), true);
        }
        return (buffer.ToArray(), false);
    }

    // Runs once per new connection, after TLS: the one place that sees both the request (so host and port) and the stream.
    private ValueTask<Stream> RememberCertificate(SocketsHttpPlaintextStreamFilterContext context, CancellationToken token)
    {
        if (context.PlaintextStream is SslStream { RemoteCertificate: { } certificate } && context.InitialRequestMessage.RequestUri is { } uri)
            _certificates[uri.Authority] = Describe(certificate, SslPolicyErrors.None, null);
        return ValueTask.FromResult(context.PlaintextStream);
    }

    // The handler's usual validation; a refused certificate is remembered so the error can say what was wrong with it.
    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors != SslPolicyErrors.None && certificate is not null && sender is SslStream { TargetHostName: { Length: > 0 } host })
            _refused[host] = Describe(certificate, errors, chain);
        return errors == SslPolicyErrors.None;
    }

    private static TlsCertificate Describe(X509Certificate certificate, SslPolicyErrors errors, X509Chain? chain)
    {
        using var x509 = new X509Certificate2(certificate);
        var chainStatus = chain?.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status) ?? X509ChainStatusFlags.NoError;
        return new TlsCertificate(x509.Subject, new DateTimeOffset(x509.NotAfter.ToUniversalTime(), TimeSpan.Zero), errors, chainStatus);
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>One HTTP answer: status, content type, the body (up to <see cref="HttpConnections.MaxBodyBytes"/>), the time it took.</summary>
internal sealed record HttpAnswer(Uri Url, int StatusCode, string ReasonPhrase, string? MediaType, byte[] Body, bool Truncated,
    TimeSpan Elapsed, TlsCertificate? Certificate)
{
    public bool IsSuccess => StatusCode is >= 200 and <= 299;
}

/// <summary>What a TLS server presented: subject, expiry, and what validation found wrong (None when trusted).</summary>
internal sealed record TlsCertificate(string Subject, DateTimeOffset NotAfter, SslPolicyErrors Errors, X509ChainStatusFlags ChainStatus);
