using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace PuoOps.StandIn;

/// <summary>
/// A stand-in for one PUO Memo HTTP service on 127.0.0.1: GET /health answers {"status":"healthy","service":name},
/// GET /metrics a Prometheus text page (a counter, a histogram, a summary and gauges, fed by the requests it serves),
/// GET / a small JSON document. <see cref="Behavior"/> (or POST /_standin?...) makes it unhealthy, slow, stalling or hung.
/// </summary>
public sealed class StandInServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly StandInMetrics _metrics;
    private readonly long _epoch = Stopwatch.GetTimestamp();
    private readonly CancellationToken _stopping;
    private StandInBehavior _behavior = StandInBehavior.Healthy;

    private StandInServer(string name, WebApplication app)
    {
        Name = name;
        _app = app;
        _metrics = new StandInMetrics(name);
        _stopping = app.Lifetime.ApplicationStopping;
    }

    public string Name { get; }

    /// <summary>http(s)://127.0.0.1:port, no trailing slash.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>How it answers from now on; requests already waiting keep what they started with.</summary>
    public StandInBehavior Behavior
    {
        get => Volatile.Read(ref _behavior);
        set => Volatile.Write(ref _behavior, value);
    }

    /// <summary>Starts listening on 127.0.0.1:<paramref name="port"/> (0: any free port), over TLS when a certificate is given.</summary>
    public static async Task<StandInServer> StartAsync(string name, int port = 0, X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen =>
        {
            if (certificate is not null)
                listen.UseHttps(certificate);
        }));
        var app = builder.Build();
        var server = new StandInServer(name, app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/'));
        return server;
    }

    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (path.StartsWith("/_standin", StringComparison.Ordinal))
        {
            await ControlAsync(context);
            return;
        }
        var started = Stopwatch.GetTimestamp();
        var behavior = Behavior;
        using var abandon = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping);
        try
        {
            if (behavior.Hang)
                await Task.Delay(Timeout.Infinite, abandon.Token); // accepted and read, never answered
            if (behavior.DelayMs > 0)
                await Task.Delay(behavior.DelayMs, abandon.Token);
            if (behavior.StallMs > 0 && behavior.PeriodMs > 0)
            {
                // Frozen for the first StallMs of every PeriodMs, like a process in a long GC pause: a request that
                // arrives in the freeze waits for its end.
                var phase = (long)Stopwatch.GetElapsedTime(_epoch).TotalMilliseconds % behavior.PeriodMs;
                if (phase < behavior.StallMs)
                    await Task.Delay(TimeSpan.FromMilliseconds(behavior.StallMs - phase), abandon.Token);
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var (status, type, body) = path switch
        {
            "/health" => (behavior.HealthStatus, "application/json",
                behavior.HealthBody ?? JsonSerializer.Serialize(new { status = "healthy", service = Name })),
            "/metrics" => (200, "text/plain; version=0.0.4; charset=utf-8", _metrics.Render(behavior)),
            "/" => (200, "application/json", JsonSerializer.Serialize(new { service = Name, user = BasicUser(context.Request) })),
            _ => (404, "application/json", JsonSerializer.Serialize(new { error = "not found", path })),
        };
        // Counted before the answer goes out, so a scrape right after a client's last answer already sees it.
        _metrics.Observe(path, status, Stopwatch.GetElapsedTime(started));
        context.Response.StatusCode = status;
        context.Response.ContentType = type;
        await context.Response.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>The user name of a Basic Authorization header (no check of the password: a stand-in, not a gate).</summary>
    private static string? BasicUser(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.Ordinal))
            return null;
        var pair = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
        return pair.Split(':')[0];
    }

    /// <summary>GET /_standin shows the behaviour; POST /_standin?status=500&amp;body=...&amp;delayMs=&amp;stallMs=&amp;periodMs=&amp;hang=true sets it (no query: healthy again).</summary>
    private async Task ControlAsync(HttpContext context)
    {
        if (HttpMethods.IsPost(context.Request.Method) || HttpMethods.IsPut(context.Request.Method))
        {
            try
            {
                Behavior = StandInBehavior.FromQuery(context.Request.Query);
            }
            catch (FormatException e)
            {
                context.Response.StatusCode = 400;
                await context.Response.WriteAsync(e.Message);
                return;
            }
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(Behavior));
    }
}

/// <summary>How a stand-in answers: the status and body of /health, and a delay, a periodic stall or a hang for every request.</summary>
public sealed record StandInBehavior
{
    public static readonly StandInBehavior Healthy = new();

    public int HealthStatus { get; init; } = 200;
    /// <summary>The /health body; null for {"status":"healthy","service":name}.</summary>
    public string? HealthBody { get; init; }
    /// <summary>Every request waits this long first.</summary>
    public int DelayMs { get; init; }
    /// <summary>The service is frozen for the first StallMs of every PeriodMs.</summary>
    public int StallMs { get; init; }
    public int PeriodMs { get; init; }
    /// <summary>Requests are accepted and never answered.</summary>
    public bool Hang { get; init; }

    public override string ToString() =>
        Hang ? "hung" : this == Healthy ? "healthy"
        : string.Join(",", new[]
        {
            HealthStatus != 200 ? $"status {HealthStatus}" : null, HealthBody is null ? null : "custom body",
            DelayMs > 0 ? $"delay {DelayMs}ms" : null, StallMs > 0 ? $"stall {StallMs}ms every {PeriodMs}ms" : null,
        }.Where(part => part is not null));

    public static StandInBehavior FromQuery(IQueryCollection query)
    {
        static int Number(IQueryCollection q, string key, int fallback) =>
            q.TryGetValue(key, out var v) ? int.Parse(v.ToString(), NumberStyles.None, CultureInfo.InvariantCulture) : fallback;
        var behavior = new StandInBehavior
        {
            HealthStatus = Number(query, "status", 200),
            HealthBody = query.TryGetValue("body", out var body) ? body.ToString() : null,
            DelayMs = Number(query, "delayMs", 0),
            StallMs = Number(query, "stallMs", 0),
            PeriodMs = Number(query, "periodMs", 1000),
            Hang = query.TryGetValue("hang", out var hang) && bool.Parse(hang.ToString()),
        };
        if (behavior.HealthStatus is < 100 or > 599 || behavior.StallMs > behavior.PeriodMs)
            throw new FormatException("status must be 100-599 and stallMs at most periodMs.");
        return behavior;
    }
}
