using PuoOps.Engine.Environments;
using PuoOps.Engine.Health;
using PuoOps.StandIn;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Health;

/// <summary>
/// Test-PuoHealth's engine against the sandbox and against stand-ins each test starts and makes unhealthy, slow or
/// hung (the sandbox's own stand-ins stay healthy for the tests that run beside these).
/// </summary>
public sealed class HealthCheckTests
{
    private static readonly HealthComponent[] Http = [HealthComponent.Api, HealthComponent.Mcp];

    // For tests about something else than answer time: a loaded test machine can take over a second for a first
    // request (JIT, TLS handshake), which the default 1 s limit would turn into a Warning.
    private static readonly TimeSpan Patient = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_sandbox_stack_is_healthy_in_every_check_in_a_stable_order()
    {
        using var env = TestEnvironments.Sandbox();
        var checks = await HealthCheckService.RunAsync(TestEnvironments.Context(env), new HealthCheckOptions { WarningLatency = Patient });
        Assert.Equal([HealthComponent.Api, HealthComponent.Mcp, HealthComponent.Postgres, HealthComponent.Redis, HealthComponent.Docker],
            checks.Select(c => c.Component));
        Assert.All(checks.Where(c => c.Component != HealthComponent.Docker || Sandbox.Current.DockerAvailable),
            c => Assert.True(c.Status == Status.OK, $"{c.Component}: {c.Status} {c.Detail}"));
        Assert.Equal(Sandbox.Current.ApiUrl + "/health", checks[0].Target);
        Assert.Equal(200, checks[0].StatusCode);
        Assert.Equal("HTTP 200 OK; status is \"healthy\".", checks[0].Detail);
        Assert.DoesNotContain(Sandbox.Current.PostgresPassword, string.Join(" ", checks.Select(c => c.Target + c.Detail)));
        Assert.All(checks, c => Assert.True(c.Latency > TimeSpan.Zero));
    }

    [Fact]
    public async Task A_500_is_critical_with_the_code_and_the_start_of_the_body()
    {
        await using var api = await StandInServer.StartAsync("xunit-api");
        api.Behavior = new StandInBehavior { HealthStatus = 500, HealthBody = """{"error":"database unavailable"}""" };
        using var env = HttpTestSupport.Environment(api);
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env), new HealthCheckOptions { Components = [HealthComponent.Api] }));
        Assert.Equal(Status.Critical, check.Status);
        Assert.Equal(500, check.StatusCode);
        Assert.Equal("""HTTP 500 Internal Server Error, expected 2xx. Body: {"error":"database unavailable"}""", check.Detail);
    }

    [Theory]
    [InlineData("""{"status":"degraded"}""", """HTTP 200 OK, but status is "degraded", expected "ok", "healthy", "up", "pass".""")]
    [InlineData("""{"state":"ok"}""", """HTTP 200 OK, but the body has no 'status' field. Body: {"state":"ok"}""")]
    [InlineData("<html>maintenance</html>", "HTTP 200 OK, but the body is not JSON. It starts: <html>maintenance</html>")]
    [InlineData("", "HTTP 200 OK, but the body is not JSON.")]
    public async Task A_health_body_that_does_not_say_healthy_is_critical(string body, string detail)
    {
        await using var api = await StandInServer.StartAsync("xunit-api");
        api.Behavior = new StandInBehavior { HealthBody = body };
        using var env = HttpTestSupport.Environment(api);
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env), new HealthCheckOptions { Components = [HealthComponent.Mcp] }));
        Assert.Equal(Status.Critical, check.Status);
        Assert.Equal(detail, check.Detail);
    }

    [Fact]
    public async Task Conditions_can_be_changed_status_codes_a_nested_json_field_and_its_values()
    {
        await using var api = await StandInServer.StartAsync("xunit-api");
        api.Behavior = new StandInBehavior { HealthStatus = 503, HealthBody = """{"checks":{"db":{"status":"MAINTENANCE"}}}""" };
        using var env = HttpTestSupport.Environment(api);
        var options = new HealthCheckOptions
        {
            Components = [HealthComponent.Api], ExpectedStatusCodes = [200, 503], JsonField = "checks.db.status", JsonValues = ["maintenance"], WarningLatency = Patient,
        };
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env), options));
        Assert.Equal(Status.OK, check.Status);
        Assert.Equal("HTTP 503 Service Unavailable; checks.db.status is \"MAINTENANCE\".", check.Detail);
    }

    [Fact]
    public async Task A_url_is_judged_by_its_status_unless_a_json_condition_is_given()
    {
        await using var api = await StandInServer.StartAsync("xunit-api");
        using var env = HttpTestSupport.Environment(api);
        var root = new Uri(api.BaseUrl, "/");
        var missing = new Uri(api.BaseUrl, "/no-such-page");
        var plain = await HealthCheckService.RunAsync(HttpTestSupport.Context(env), new HealthCheckOptions { Components = [], Urls = [root, missing], WarningLatency = Patient });
        Assert.Equal([HealthComponent.Url, HealthComponent.Url], plain.Select(c => c.Component));
        Assert.Equal(Status.OK, plain[0].Status); // {"service":"xunit-api"}: no status field, and none asked for
        Assert.Equal(Status.Critical, plain[1].Status);
        Assert.StartsWith("HTTP 404 Not Found, expected 2xx.", plain[1].Detail);
        var withJson = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env),
            new HealthCheckOptions { Components = [], Urls = [root], JsonField = "service", JsonValues = ["xunit-api"], WarningLatency = Patient }));
        Assert.Equal(Status.OK, withJson.Status);
        Assert.Contains("service is \"xunit-api\"", withJson.Detail);
    }

    [Fact]
    public async Task Credentials_in_a_url_are_sent_as_basic_authentication_and_never_shown()
    {
        await using var api = await StandInServer.StartAsync("xunit-auth");
        using var env = HttpTestSupport.Environment(api);
        var url = new Uri($"http://puo:S3cretPass@127.0.0.1:{api.BaseUrl.Port}/");
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env),
            new HealthCheckOptions { Components = [], Urls = [url], JsonField = "user", JsonValues = ["puo"], WarningLatency = Patient }));
        Assert.Equal(Status.OK, check.Status); // the stand-in saw user puo in a Basic Authorization header
        Assert.Equal($"http://puo:***@127.0.0.1:{api.BaseUrl.Port}/", check.Target);
        var closed = TestEnvironments.ClosedPort();
        var refused = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env),
            new HealthCheckOptions { Components = [], Urls = [new Uri($"https://puo:S3cretPass@127.0.0.1:{closed}/health")] }));
        Assert.Equal(Status.Critical, refused.Status);
        Assert.DoesNotContain("S3cretPass", refused.Target + refused.Detail);
        Assert.StartsWith($"https://puo:***@127.0.0.1:{closed}/health refused the connection", refused.Detail);
    }

    [Fact]
    public async Task A_slow_answer_is_a_warning_that_says_how_slow()
    {
        await using var api = await StandInServer.StartAsync("xunit-api");
        api.Behavior = new StandInBehavior { DelayMs = 300 };
        using var env = HttpTestSupport.Environment(api);
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env),
            new HealthCheckOptions { Components = [HealthComponent.Api], WarningLatency = TimeSpan.FromMilliseconds(100) }));
        Assert.Equal(Status.Warning, check.Status);
        Assert.True(check.Latency >= TimeSpan.FromMilliseconds(250), $"latency {check.Latency}"); // the stand-in's 300 ms timer may end a little early
        Assert.Matches(@"^Slow: answered in \d+ ms, over 100 ms\. HTTP 200 OK; status is ""healthy""\.$", check.Detail);
    }

    [Fact]
    public async Task A_hung_endpoint_is_critical_at_the_timeout_and_holds_up_no_other_check()
    {
        await using var hung = await StandInServer.StartAsync("xunit-hung");
        await using var healthy = await StandInServer.StartAsync("xunit-mcp");
        hung.Behavior = new StandInBehavior { Hang = true };
        using var env = HttpTestSupport.Environment(hung, healthy, withServices: true);
        var checks = await HealthCheckService.RunAsync(HttpTestSupport.Context(env, timeoutSeconds: 3),
            new HealthCheckOptions { Components = [HealthComponent.Api, HealthComponent.Mcp, HealthComponent.Postgres, HealthComponent.Redis], WarningLatency = Patient });
        var api = checks[0];
        Assert.Equal(Status.Critical, api.Status);
        Assert.Equal("No answer within 3 s. Check that it runs and is not stuck, or raise -TimeoutSec.", api.Detail);
        Assert.True(api.Latency >= TimeSpan.FromSeconds(2.9), $"latency {api.Latency}");
        // The others answered on their own time, each well inside the hung one's wait.
        Assert.All(checks.Skip(1), c =>
        {
            Assert.Equal(Status.OK, c.Status);
            Assert.True(c.Latency < TimeSpan.FromSeconds(2), $"{c.Component} took {c.Latency}");
        });
    }

    [Fact]
    public async Task A_refused_connection_and_an_unconfigured_component_say_what_is_wrong()
    {
        var closed = TestEnvironments.ClosedPort();
        using var env = PuoEnvironment.Create(new EnvironmentSettings
        {
            Name = "xunit-refused", ApiUrl = $"http://127.0.0.1:{closed}", McpUrl = $"http://127.0.0.1:{closed}/mcp", DockerHost = "unix:///nonexistent.sock",
        });
        var checks = await HealthCheckService.RunAsync(HttpTestSupport.Context(env, timeoutSeconds: 5),
            new HealthCheckOptions { Components = [HealthComponent.Api, HealthComponent.Redis, HealthComponent.Mcp] });
        Assert.Equal([HealthComponent.Api, HealthComponent.Mcp, HealthComponent.Redis], checks.Select(c => c.Component));
        Assert.Equal(Status.Critical, checks[0].Status);
        Assert.Equal($"http://127.0.0.1:{closed}/health refused the connection: is the service running and listening on port {closed}?", checks[0].Detail);
        Assert.Equal($"http://127.0.0.1:{closed}/mcp/health", checks[1].Target); // a path prefix is kept
        Assert.Equal(Status.Unknown, checks[2].Status);
        Assert.Contains("has no Redis connection", checks[2].Detail);
    }

    [Fact]
    public async Task Without_components_only_what_the_environment_has_is_checked()
    {
        await using var api = await StandInServer.StartAsync("xunit-api");
        using var env = HttpTestSupport.Environment(api);
        var checks = await HealthCheckService.RunAsync(HttpTestSupport.Context(env, timeoutSeconds: 5), new HealthCheckOptions());
        Assert.Equal([HealthComponent.Api, HealthComponent.Mcp, HealthComponent.Docker], checks.Select(c => c.Component));
        Assert.Equal(Status.Critical, checks[2].Status); // unix:///nonexistent.sock
        Assert.Contains("/nonexistent.sock", checks[2].Detail);
    }

    [Fact]
    public async Task PostgreSQL_that_refuses_the_password_is_up_as_pg_isready_says_but_a_warning()
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { Password = "WrongPassword42" };
        using var env = PuoEnvironment.Create(new EnvironmentSettings { Name = "xunit-pgpass", PostgresConnectionString = builder.ConnectionString });
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env, timeoutSeconds: 5),
            new HealthCheckOptions { Components = [HealthComponent.Postgres], WarningLatency = Patient }));
        Assert.Equal(Status.Warning, check.Status);
        Assert.StartsWith("Accepting connections, but: ", check.Detail);
        Assert.DoesNotContain("WrongPassword42", check.Detail);
    }

    [Fact]
    public async Task A_self_signed_certificate_is_a_tls_failure_that_names_the_problem()
    {
        using var certificate = HttpTestSupport.ServerCertificate(DateTimeOffset.UtcNow.AddDays(30));
        await using var api = await StandInServer.StartAsync("xunit-tls", certificate: certificate);
        using var env = HttpTestSupport.Environment(api);
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env), new HealthCheckOptions { Components = [HealthComponent.Api] }));
        Assert.Equal(Status.Critical, check.Status);
        Assert.StartsWith($"{api.BaseUrl}health: TLS failed: the certificate is not trusted", check.Detail);
        Assert.Contains("CN=127.0.0.1", check.Detail);
    }

    [Fact]
    public async Task A_trusted_certificate_that_expires_soon_is_a_warning_and_one_that_does_not_is_ok()
    {
        using var authority = new TrustedTestAuthority();
        using var soon = HttpTestSupport.ServerCertificate(DateTimeOffset.UtcNow.AddDays(5), authority.Certificate);
        using var later = HttpTestSupport.ServerCertificate(DateTimeOffset.UtcNow.AddDays(90), authority.Certificate);
        await using var expiring = await StandInServer.StartAsync("xunit-soon", certificate: soon);
        await using var fine = await StandInServer.StartAsync("xunit-later", certificate: later);
        using var env = HttpTestSupport.Environment(expiring, fine);
        var checks = await HealthCheckService.RunAsync(HttpTestSupport.Context(env), new HealthCheckOptions { Components = Http, WarningLatency = Patient });
        Assert.Equal(Status.Warning, checks[0].Status);
        Assert.Matches(@"^HTTP 200 OK; status is ""healthy""; the TLS certificate expires in [45] days \(\d{4}-\d\d-\d\d UTC\)\. Renew it\.$", checks[0].Detail);
        Assert.Equal(soon.NotAfter.ToUniversalTime(), checks[0].CertificateExpires!.Value.UtcDateTime);
        Assert.Equal(Status.OK, checks[1].Status);
        Assert.Matches(@"; certificate valid until \d{4}-\d\d-\d\d\.$", checks[1].Detail);
    }

    [Fact]
    public async Task Ctrl_C_ends_the_run_at_once_even_with_a_hung_check()
    {
        await using var hung = await StandInServer.StartAsync("xunit-hung");
        hung.Behavior = new StandInBehavior { Hang = true };
        using var env = HttpTestSupport.Environment(hung);
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var run = HealthCheckService.RunAsync(HttpTestSupport.Context(env, timeoutSeconds: 60, cancellation: stop.Token), new HealthCheckOptions { Components = Http });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_listener_that_accepts_and_never_reads_is_also_critical_at_the_timeout()
    {
        using var blackhole = new BlackholeServer();
        using var env = PuoEnvironment.Create(new EnvironmentSettings
        {
            Name = "xunit-blackhole", ApiUrl = $"http://127.0.0.1:{blackhole.Port}", DockerHost = "unix:///nonexistent.sock",
        });
        var check = Assert.Single(await HealthCheckService.RunAsync(HttpTestSupport.Context(env, timeoutSeconds: 2), new HealthCheckOptions { Components = [HealthComponent.Api] }));
        Assert.Equal(Status.Critical, check.Status);
        Assert.StartsWith("No answer within 2 s.", check.Detail);
    }
}
