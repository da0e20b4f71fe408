using System.Net;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Environments;

public sealed class EnvironmentTests
{
    [Fact]
    public void DatabaseUrl_is_parsed_and_its_password_never_shown()
    {
        var env = TestEnvironments.WithPostgresUrl("postgres://app%40puo:s3cr%3At@db.example:6543/puo_memo?sslmode=require");
        Assert.Equal("app@puo@db.example:6543/puo_memo", env.Postgres);
        Assert.DoesNotContain("s3cr", env.Postgres);
        Assert.DoesNotContain("s3cr", env.ToString());
    }

    [Theory]
    [InlineData("mysql://u:p@h/db")]
    [InlineData("postgres://u:p@h/db?sslmode=sometimes")]
    [InlineData("postgres://u:p@h/db?frobnicate=1")]
    public void A_malformed_database_url_is_an_invalid_argument(string url)
    {
        var error = Assert.Throws<PuoException>(() => TestEnvironments.WithPostgresUrl(url));
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        Assert.DoesNotContain(":p@", error.Message);
    }

    [Fact]
    public void A_credential_overrides_the_url_user_and_password()
    {
        var env = PuoEnvironment.Create(new EnvironmentSettings
        {
            Name = "cred", DatabaseUrl = "postgres://nobody@h:5432/db", PostgresCredential = new NetworkCredential("ops", "pw"),
        });
        Assert.Equal("ops@h:5432/db", env.Postgres);
    }

    [Fact]
    public void Redis_url_is_parsed_without_showing_the_password()
    {
        var env = PuoEnvironment.Create(new EnvironmentSettings { Name = "r", DatabaseUrl = "postgres://u@h/db", RedisConnectionString = "redis://:hunter2@cache:6380/3" });
        Assert.Equal("cache:6380/3", env.Redis);
    }

    [Fact]
    public void Registry_resolves_by_name_case_insensitively_and_disconnect_disposes()
    {
        var env = TestEnvironments.Sandbox("Registry-" + Guid.NewGuid().ToString("N")[..6]);
        using var registry = new EnvironmentRegistry();
        registry.Register(env, makeDefault: false);
        Assert.Same(env, registry.Resolve(env.Name.ToUpperInvariant()));
        Assert.True(env.IsDefault); // the first one connected becomes the default
        Assert.True(registry.Remove(env.Name));
        var missing = Assert.Throws<PuoException>(() => registry.Resolve(env.Name));
        Assert.Equal(ErrorKind.NotFound, missing.Kind);
    }

    [Fact]
    public void Only_the_implicit_default_environment_reads_the_process_variables()
    {
        var saved = new[] { "REDIS_URL", "DOCKER_HOST", "PUO_API_URL", "COMPOSE_PROJECT_NAME", "PUO_NGINX_CONF", "PUO_TRAFFIC_FILE", "PUO_BLOCKLIST_FILE", "PUO_ENV_FILE" }
            .ToDictionary(n => n, System.Environment.GetEnvironmentVariable);
        try
        {
            System.Environment.SetEnvironmentVariable("REDIS_URL", "redis://:pw@127.0.0.9:6399/0");
            System.Environment.SetEnvironmentVariable("DOCKER_HOST", "unix:///tmp/xunit-implicit-docker.sock");
            System.Environment.SetEnvironmentVariable("PUO_API_URL", "http://127.0.0.9:8009");
            System.Environment.SetEnvironmentVariable("COMPOSE_PROJECT_NAME", "xunit-implicit");
            System.Environment.SetEnvironmentVariable("PUO_NGINX_CONF", "/etc/xunit-implicit/nginx.conf");
            System.Environment.SetEnvironmentVariable("PUO_TRAFFIC_FILE", "/etc/xunit-implicit/traffic.conf");
            System.Environment.SetEnvironmentVariable("PUO_BLOCKLIST_FILE", "/etc/xunit-implicit/deny.conf");
            System.Environment.SetEnvironmentVariable("PUO_ENV_FILE", "/srv/xunit-implicit/.env");
            using var named = PuoEnvironment.Create(new EnvironmentSettings { Name = "staging", DatabaseUrl = "postgres://u@h/db" });
            Assert.Null(named.Redis);
            Assert.Equal("unix:///var/run/docker.sock", named.DockerHost);
            Assert.Equal(new Uri(EnvironmentSettings.DefaultApiUrl), named.ApiUrl);
            Assert.Equal(EnvironmentSettings.DefaultComposeProject, named.ComposeProject);
            Assert.Null(named.NginxConfig);
            Assert.Null(named.TrafficFile);
            Assert.Null(named.BlockListFile);
            Assert.Null(named.EnvFile);

            using var implicitDefault = PuoEnvironment.CreateImplicit();
            Assert.Equal("127.0.0.9:6399/0", implicitDefault.Redis);
            Assert.Equal("unix:///tmp/xunit-implicit-docker.sock", implicitDefault.DockerHost);
            Assert.Equal(new Uri("http://127.0.0.9:8009"), implicitDefault.ApiUrl);
            Assert.Equal("xunit-implicit", implicitDefault.ComposeProject);
            Assert.Equal("/etc/xunit-implicit/nginx.conf", implicitDefault.NginxConfig);
            Assert.Equal("/etc/xunit-implicit/traffic.conf", implicitDefault.TrafficFile);
            Assert.Equal("/etc/xunit-implicit/deny.conf", implicitDefault.BlockListFile);
            Assert.Equal("/srv/xunit-implicit/.env", implicitDefault.EnvFile);
        }
        finally
        {
            foreach (var (name, value) in saved)
                System.Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public void The_registry_never_moves_the_default_by_itself()
    {
        using var registry = new EnvironmentRegistry();
        var prod = registry.Register(TestEnvironments.WithPostgresUrl("postgres://u@h/prod"), makeDefault: false);
        var aaa = registry.Register(TestEnvironments.WithPostgresUrl("postgres://u@h/aaa"), makeDefault: false);
        Assert.True(prod.IsDefault);
        Assert.False(aaa.IsDefault);
        Assert.True(registry.Remove(prod.Name));
        Assert.False(aaa.IsDefault);
        var error = Assert.Throws<PuoException>(() => registry.Resolve(null));
        Assert.Equal("PuoOps.Environment.NoDefault", error.ErrorId);
        Assert.True(registry.Remove(aaa.Name));
        Assert.Equal("PuoOps.Environment.NoDefault", Assert.Throws<PuoException>(() => registry.Resolve(null)).ErrorId);
        var next = registry.Register(TestEnvironments.WithPostgresUrl("postgres://u@h/next"), makeDefault: false);
        Assert.Same(next, registry.Resolve(null));
    }

    [Fact]
    public async Task Connections_are_pooled_per_environment()
    {
        var app = "xunit-pool-" + Guid.NewGuid().ToString("N")[..8];
        using var env = PuoEnvironment.Create(new EnvironmentSettings
        {
            Name = app, PostgresConnectionString = Sandbox.Current.PostgresConnectionString + ";Application Name=" + app,
        });
        var ctx = TestEnvironments.Context(env);
        for (var i = 0; i < 20; i++)
        {
            var health = await PuoOps.Engine.Postgres.PostgresHealthService.TestAsync(ctx);
            Assert.Equal(Status.OK, health.Status);
        }
        // Twenty checks, one physical connection: the server sees at most a couple of backends for this app.
        await using var conn = new Npgsql.NpgsqlConnection(Sandbox.Current.PostgresConnectionString);
        await conn.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = @app", conn);
        cmd.Parameters.AddWithValue("app", app);
        Assert.InRange((long)(await cmd.ExecuteScalarAsync())!, 1, 3);
    }
}
