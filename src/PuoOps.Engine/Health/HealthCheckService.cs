using System.Diagnostics;
using PuoOps.Engine.Docker;
using PuoOps.Engine.Http;
using PuoOps.Engine.Postgres;
using PuoOps.Engine.Redis;

namespace PuoOps.Engine.Health;

/// <summary>
/// The runbook's health section (curl -f on the API and MCP /health, pg_isready, redis-cli ping, the Docker daemon,
/// external endpoints) as checks that all run at once. Each is bounded by the context's timeout on its own, so a hung
/// endpoint is Critical at the timeout while the others report as soon as they answer. A check never throws for a
/// failing service: the failure is its Status and Detail. Only Ctrl+C ends the run early.
/// </summary>
public static class HealthCheckService
{
    /// <summary>Runs the checks <paramref name="options"/> selects, in parallel; results in a stable order (components, then URLs).</summary>
    public static async Task<IReadOnlyList<HealthCheck>> RunAsync(OperationContext ctx, HealthCheckOptions options)
    {
        var planned = Plan(ctx.Environment, options);
        return await Task.WhenAll(planned.Select(check => Task.Run(() => RunOneAsync(ctx, check, options.WarningLatency)))).ConfigureAwait(false);
    }

    /// <summary>The /health URL of a service's base URL (a path prefix such as /api is kept).</summary>
    public static Uri HealthUrl(Uri baseUrl) => Under(baseUrl, "health");

    /// <summary><paramref name="relative"/> under <paramref name="baseUrl"/>'s path.</summary>
    internal static Uri Under(Uri baseUrl, string relative) =>
        new(baseUrl.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/" + relative);

    private delegate Task<Verdict> CheckRunner(OperationContext ctx);

    private sealed record PlannedCheck(HealthComponent Component, string Target, CheckRunner Run);

    private static List<PlannedCheck> Plan(PuoEnvironment environment, HealthCheckOptions options)
    {
        var components = options.Components ?? DefaultComponents(environment);
        var planned = new List<PlannedCheck>();
        foreach (var component in components.Distinct().Order())
        {
            planned.Add(component switch
            {
                HealthComponent.Api => HttpCheck(component, HealthUrl(environment.ApiUrl), options, isHealthEndpoint: true),
                HealthComponent.Mcp => HttpCheck(component, HealthUrl(environment.McpUrl), options, isHealthEndpoint: true),
                HealthComponent.Postgres => new PlannedCheck(component, environment.Postgres ?? "(not configured)", PostgresAsync),
                HealthComponent.Redis => new PlannedCheck(component, environment.Redis ?? "(not configured)", RedisAsync),
                HealthComponent.Docker => new PlannedCheck(component, environment.DockerHost, DockerAsync),
                _ => throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Health.Component",
                    $"'{component}' is not a component; give endpoints with -Url.", component),
            });
        }
        planned.AddRange(options.Urls.Select(url => HttpCheck(HealthComponent.Url, url, options, isHealthEndpoint: false)));
        return planned;
    }

    private static IReadOnlyList<HealthComponent> DefaultComponents(PuoEnvironment environment)
    {
        var components = new List<HealthComponent> { HealthComponent.Api, HealthComponent.Mcp };
        if (environment.PostgresEndpoint is not null)
            components.Add(HealthComponent.Postgres);
        if (environment.RedisEndpoint is not null)
            components.Add(HealthComponent.Redis);
        components.Add(HealthComponent.Docker);
        return components;
    }

    private static async Task<HealthCheck> RunOneAsync(OperationContext ctx, PlannedCheck check, TimeSpan warningLatency)
    {
        var watch = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
        deadline.CancelAfter(ctx.Timeout);
        var own = new OperationContext(ctx.Environment, ctx.Timeout, deadline.Token, verbose: ctx.Verbose);
        Verdict verdict;
        try
        {
            verdict = await check.Run(own).WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        // The HTTP client's own timeout is the same -TimeoutSec and may fire a moment before the deadline does.
        catch (Exception ex) when ((deadline.IsCancellationRequested || ex is PuoException { Kind: ErrorKind.Timeout })
                                   && !ctx.Cancellation.IsCancellationRequested)
        {
            verdict = new Verdict(Status.Critical,
                $"No answer within {ctx.TimeoutSeconds} s. Check that it runs and is not stuck, or raise -TimeoutSec.");
        }
        catch (Exception ex) when (!ctx.Cancellation.IsCancellationRequested)
        {
            var error = ErrorTranslator.Translate(ex, ctx.Environment);
            verdict = new Verdict(error.ErrorId.EndsWith(".NotConfigured", StringComparison.Ordinal) ? Status.Unknown : Status.Critical, error.Message);
        }
        var latency = verdict.Latency ?? watch.Elapsed;
        if (verdict.Status is Status.OK or Status.Warning && latency > warningLatency)
            verdict = verdict with
            {
                Status = Status.Warning,
                Detail = $"Slow: answered in {Milliseconds(latency)}, over {Milliseconds(warningLatency)}. {verdict.Detail}",
            };
        ctx.Log($"{check.Component} {check.Target}: {verdict.Status} in {Milliseconds(latency)}.");
        return new HealthCheck
        {
            Environment = ctx.Environment.Name, Component = check.Component, Target = check.Target, Status = verdict.Status,
            Latency = latency, Detail = verdict.Detail, StatusCode = verdict.StatusCode, CertificateExpires = verdict.CertificateExpires,
            CheckedAt = DateTimeOffset.Now,
        };
    }

    private static PlannedCheck HttpCheck(HealthComponent component, Uri url, HealthCheckOptions options, bool isHealthEndpoint)
    {
        var field = options.JsonField
            ?? (isHealthEndpoint || options.JsonValues is not null ? HealthCheckOptions.DefaultJsonField : null);
        var rules = new HttpHealthRules(options.ExpectedStatusCodes, field, options.JsonValues ?? HealthCheckOptions.DefaultJsonValues,
            options.CertificateExpiryWarning);
        return new PlannedCheck(component, HttpUrl.Display(url), async ctx =>
        {
            var answer = await HttpConnections.GetAsync(ctx, url, "application/json, */*;q=0.5").ConfigureAwait(false);
            return rules.Judge(answer, DateTimeOffset.UtcNow);
        });
    }

    // What pg_isready checks: does the server accept connections. One that does but refuses our credentials is up,
    // which pg_isready reports as accepting, so it is a Warning rather than down.
    private static async Task<Verdict> PostgresAsync(OperationContext ctx)
    {
        var health = await PostgresHealthService.TestAsync(ctx).ConfigureAwait(false);
        return health.Status == Status.OK
            ? new Verdict(Status.OK, $"Accepting connections (PostgreSQL {health.ServerVersion}{(health.InRecovery == true ? ", read-only standby" : "")}).", health.Latency)
            : health.Reachable
                ? new Verdict(Status.Warning, "Accepting connections, but: " + health.Message)
                : new Verdict(Status.Critical, health.Message);
    }

    private static async Task<Verdict> RedisAsync(OperationContext ctx)
    {
        var health = await RedisHealthService.TestAsync(ctx).ConfigureAwait(false);
        return health.Status == Status.OK
            ? new Verdict(Status.OK, $"PONG (Redis {health.Version ?? "version unknown"}, {health.Role}).", health.Latency)
            : health.Reachable
                ? new Verdict(Status.Warning, "Answering, but: " + health.Message)
                : new Verdict(Status.Critical, health.Message);
    }

    private static async Task<Verdict> DockerAsync(OperationContext ctx)
    {
        // Connect and negotiate the API version first (once per environment): not part of the ping's time.
        await DockerConnections.CallAsync(ctx, "Connecting to the Docker daemon", null, (_, _) => Task.CompletedTask).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        await DockerConnections.CallAsync(ctx, "Pinging the Docker daemon", null, (client, token) => client.System.PingAsync(token)).ConfigureAwait(false);
        return new Verdict(Status.OK, "The daemon answered /_ping.", watch.Elapsed);
    }

    internal static string Milliseconds(TimeSpan span) =>
        span.TotalMilliseconds < 10 ? $"{span.TotalMilliseconds:0.##} ms" : span.TotalSeconds < 10 ? $"{span.TotalMilliseconds:0} ms" : $"{span.TotalSeconds:0.#} s";
}

/// <summary>One check's outcome before it becomes a <see cref="HealthCheck"/>; Latency null means the check's whole run.</summary>
internal sealed record Verdict(Status Status, string Detail, TimeSpan? Latency = null, int? StatusCode = null, DateTimeOffset? CertificateExpires = null);
