using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using PuoOps.Engine;
using PuoOps.Engine.Docker;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Docker;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Security;

/// <summary>TLS settings of each endpoint are parsed, used, and their absence towards another machine is warned about once.</summary>
public sealed class TransportSecurityTests
{
    private static PuoEnvironment Create(string? databaseUrl = null, string? redis = null, string? dockerHost = null, string? dockerCertPath = null, string? redisCertPath = null) =>
        PuoEnvironment.Create(new EnvironmentSettings
        {
            Name = "xunit-tls-" + Guid.NewGuid().ToString("N")[..6], DatabaseUrl = databaseUrl, RedisConnectionString = redis,
            DockerHost = dockerHost, DockerCertPath = dockerCertPath, RedisCertPath = redisCertPath,
        });

    [Fact]
    public void The_client_keys_sslpassword_reaches_the_connection_and_nothing_shows_it()
    {
        const string passphrase = "s3cret key/pass&phrase=";
        using var env = Create("postgres://u:pw@db.example/puo_memo?sslmode=verify-full&sslrootcert=/etc/puo/ca.pem&sslcert=/etc/puo/c.pem&sslkey=/etc/puo/c.key&sslpassword=" +
                               Uri.EscapeDataString(passphrase));
        var endpoint = env.PostgresEndpoint!;
        Assert.Equal(passphrase, new Npgsql.NpgsqlConnectionStringBuilder(endpoint.ConnectionString).SslPassword);
        var childEnvironment = PuoOps.Engine.Backup.PgTools.Environment(endpoint, TestEnvironments.Context(env), "test");
        var shown = string.Join("\n", new[] { env.ToString(), env.Postgres, endpoint.ToString(), endpoint.DisplayName }.Concat(env.TakeSecurityWarnings())
            .Concat(childEnvironment.Values));
        Assert.DoesNotContain(passphrase, shown);
        // A URL refused for another reason does not repeat the passphrase either.
        var refused = Assert.Throws<PuoException>(() => Create("postgres://u@db.example/puo_memo?sslpassword=" + Uri.EscapeDataString(passphrase) + "&frobnicate=1"));
        Assert.DoesNotContain(passphrase, refused.ToString());
    }

    [Fact]
    public void Redis_certificates_come_from_RedisCertPath_over_TLS_only_and_not_mixed_with_the_URLs()
    {
        using var certificates = new TestCertificates();
        Assert.Empty(Create(redis: "rediss://:pw@cache.example:6380/0", redisCertPath: certificates.Folder).TakeSecurityWarnings());
        Assert.Empty(Create(redis: "cache.example:6380,ssl=true,password=pw", redisCertPath: certificates.Folder).TakeSecurityWarnings());
        var ca = Uri.EscapeDataString(certificates.Path("ca.pem"));
        foreach (var mixed in new[] { "redis://:pw@cache.example:6379/0", "cache.example:6379,password=pw", $"rediss://:pw@cache.example:6380/0?ssl_ca_certs={ca}", "rediss://:pw@cache.example:6380/0?ssl_cert_reqs=none" })
            Assert.Equal("PuoOps.Redis.ConnectionString", Assert.Throws<PuoException>(() => Create(redis: mixed, redisCertPath: certificates.Folder)).ErrorId);
        var empty = Directory.CreateTempSubdirectory("puo-nocerts-").FullName;
        try
        {
            var missing = Assert.Throws<PuoException>(() => Create(redis: "rediss://:pw@cache.example:6380/0", redisCertPath: empty));
            Assert.Equal(("PuoOps.Redis.CertPath", ErrorKind.InvalidArgument), (missing.ErrorId, missing.Kind));
            Assert.Contains("ca.pem, cert.pem, key.pem", missing.Message);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    /// <summary>
    /// A redis-server started here with TLS only, on a free loopback port, demanding a client certificate from our CA
    /// (tls-auth-clients yes), under certificates made by the test.
    /// </summary>
    [Fact]
    public async Task Redis_over_TLS_presents_the_RedisCertPath_client_certificate_and_verifies_the_server()
    {
        using var certificates = new TestCertificates();
        using var other = new TestCertificates();
        await using var server = await TlsRedisServer.StartAsync(certificates);
        var url = $"rediss://127.0.0.1:{server.Port}/0";

        using var tls = Create(redis: url, redisCertPath: certificates.Folder);
        var database = await PuoOps.Engine.Redis.RedisConnections.DatabaseAsync(TestEnvironments.Context(tls, 10));
        await database.StringSetAsync("t20:tls", "through TLS");
        Assert.Equal("through TLS", (string?)await database.StringGetAsync("t20:tls"));

        // A server whose certificate our CA did not sign is refused; so is a client without the certificate the server demands.
        using var wrongCa = Create(redis: url, redisCertPath: other.Folder);
        var refused = await Assert.ThrowsAsync<PuoException>(() => PuoOps.Engine.Redis.RedisConnections.DatabaseAsync(TestEnvironments.Context(wrongCa, 5)));
        Assert.Equal(("PuoOps.Redis.Tls", ErrorKind.Connection), (refused.ErrorId, refused.Kind));
        using var noClientCertificate = Create(redis: $"{url}?ssl_ca_certs={Uri.EscapeDataString(certificates.Path("ca.pem"))}");
        await Assert.ThrowsAnyAsync<Exception>(async () =>
            await (await PuoOps.Engine.Redis.RedisConnections.DatabaseAsync(TestEnvironments.Context(noClientCertificate, 5))).PingAsync());
    }

    private sealed class TlsRedisServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _directory;

        private TlsRedisServer(Process process, string directory, int port) => (_process, _directory, Port) = (process, directory, port);

        public int Port { get; }

        public static async Task<TlsRedisServer> StartAsync(TestCertificates certificates)
        {
            var directory = Directory.CreateTempSubdirectory("puo-tls-redis-").FullName;
            using var free = new TcpListener(IPAddress.Loopback, 0);
            free.Start();
            var port = ((IPEndPoint)free.LocalEndpoint).Port;
            free.Stop();
            var start = new ProcessStartInfo("redis-server")
            {
                WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var argument in new[]
                     {
                         "--port", "0", "--tls-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                         "--tls-cert-file", certificates.Path("server.pem"), "--tls-key-file", certificates.Path("server-key.pem"),
                         "--tls-ca-cert-file", certificates.Path("ca.pem"), "--tls-auth-clients", "yes",
                         "--save", "", "--appendonly", "no", "--dir", directory, "--daemonize", "no",
                     })
                start.ArgumentList.Add(argument);
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new TlsRedisServer(process, directory, port);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                    return server;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
                {
                    await Task.Delay(50);
                }
                catch
                {
                    await server.DisposeAsync();
                    throw;
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
                _process.Kill();
            await _process.WaitForExitAsync();
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void A_remote_postgres_without_certificate_verification_is_warned_about_once()
    {
        using var plain = Create("postgres://u:secretpw@db.example:5432/puo_memo");
        var warning = Assert.Single(plain.TakeSecurityWarnings());
        Assert.Contains("db.example", warning);
        Assert.Contains("sslmode=prefer", warning);
        Assert.DoesNotContain("secretpw", warning);
        Assert.Empty(plain.TakeSecurityWarnings());

        using var require = Create("postgres://u@db.example/puo_memo?sslmode=require");
        Assert.Contains("sslmode=require", Assert.Single(require.TakeSecurityWarnings()));
        using var verified = Create("postgres://u@db.example/puo_memo?sslmode=verify-full&sslrootcert=/etc/puo/ca.pem&sslcert=/etc/puo/c.pem&sslkey=/etc/puo/c.key");
        Assert.Empty(verified.TakeSecurityWarnings());
        using var local = Create("postgres://u@127.0.0.1:5432/puo_memo");
        Assert.Empty(local.TakeSecurityWarnings());
    }

    [Fact]
    public void Redis_TLS_options_are_parsed_and_a_remote_server_without_verified_TLS_is_warned_about()
    {
        using var certificates = new TestCertificates();
        var ca = Uri.EscapeDataString(certificates.Path("ca.pem"));
        Assert.Contains("without TLS", Assert.Single(Create(redis: "redis://:pw@cache.example:6379/0").TakeSecurityWarnings()));
        Assert.Empty(Create(redis: $"rediss://:pw@cache.example:6380/0?ssl_ca_certs={ca}&ssl_certfile={Uri.EscapeDataString(certificates.Path("cert.pem"))}&ssl_keyfile={Uri.EscapeDataString(certificates.Path("key.pem"))}").TakeSecurityWarnings());
        Assert.Contains("ssl_cert_reqs=none", Assert.Single(Create(redis: "rediss://:pw@cache.example:6380/0?ssl_cert_reqs=none").TakeSecurityWarnings()));
        Assert.Empty(Create(redis: "redis://:pw@127.0.0.1:6379/0").TakeSecurityWarnings());
        foreach (var bad in new[] { $"redis://:pw@h:6379/0?ssl_ca_certs={ca}", "rediss://:pw@h:6380/0?ssl_ca_certs=/nonexistent/ca.pem", "rediss://h:6380/0?frobnicate=1" })
            Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => Create(redis: bad)).Kind);
    }

    [Fact]
    public void Docker_plain_tcp_to_another_machine_is_warned_about_and_TLS_needs_its_certificate_folder()
    {
        using var certificates = new TestCertificates();
        Assert.Contains("plain HTTP", Assert.Single(Create(dockerHost: "tcp://10.1.2.3:2375").TakeSecurityWarnings()));
        Assert.Empty(Create(dockerHost: "tcp://127.0.0.1:2375").TakeSecurityWarnings());
        Assert.Empty(Create(dockerHost: "tcp://10.1.2.3:2376", dockerCertPath: certificates.Folder).TakeSecurityWarnings());
        Assert.Equal("https://10.1.2.3:2376/", DockerConnections.Endpoint("tcp://10.1.2.3:2376", certificates.Folder).Uri.ToString());
        Assert.Equal("https://10.1.2.3:2376/", DockerConnections.Endpoint("tcp://10.1.2.3", certificates.Folder).Uri.ToString());
        var empty = Directory.CreateTempSubdirectory("puo-nocerts-").FullName;
        try
        {
            Assert.Equal("PuoOps.Docker.CertPath", Assert.Throws<PuoException>(() => Create(dockerHost: "tcp://10.1.2.3:2376", dockerCertPath: empty)).ErrorId);
            Assert.Equal("PuoOps.Docker.CertPath", Assert.Throws<PuoException>(() => Create(dockerHost: "unix:///var/run/docker.sock", dockerCertPath: certificates.Folder)).ErrorId);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public void The_implicit_default_takes_docker_TLS_from_DOCKER_TLS_VERIFY_and_DOCKER_CERT_PATH()
    {
        using var certificates = new TestCertificates();
        var saved = new[] { "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH" }.ToDictionary(n => n, System.Environment.GetEnvironmentVariable);
        try
        {
            System.Environment.SetEnvironmentVariable("DOCKER_HOST", "tcp://10.1.2.3:2376");
            System.Environment.SetEnvironmentVariable("DOCKER_TLS_VERIFY", "1");
            System.Environment.SetEnvironmentVariable("DOCKER_CERT_PATH", certificates.Folder);
            using var implicitDefault = PuoEnvironment.CreateImplicit();
            Assert.Empty(implicitDefault.TakeSecurityWarnings());
            System.Environment.SetEnvironmentVariable("DOCKER_TLS_VERIFY", null);
            using var plain = PuoEnvironment.CreateImplicit();
            Assert.Contains("plain HTTP", Assert.Single(plain.TakeSecurityWarnings()));
        }
        finally
        {
            foreach (var (name, value) in saved)
                System.Environment.SetEnvironmentVariable(name, value);
        }
    }

    [Fact]
    public void The_first_cmdlet_to_use_an_environment_warns_once()
    {
        using var host = new ModuleHost();
        var result = host.Invoke("""
            Connect-PuoEnvironment -Name remote -DatabaseUrl 'postgres://puo:pw@db.example:5432/puo_memo' -RedisConnectionString $redis -SkipCheck
            $null = Test-PuoRedis -Environment remote
            $null = Test-PuoRedis -Environment remote
            """, new Dictionary<string, object?> { ["redis"] = Sandbox.Current.RedisConnectionString }).ThrowIfFailed();
        Assert.Contains("db.example", Assert.Single(result.Warnings));
    }

    /// <summary>
    /// The sandbox's real Docker engine behind a TLS endpoint that demands a client certificate from our CA (a
    /// terminating proxy to its unix socket, as a remote daemon started with --tlsverify behaves).
    /// </summary>
    [DockerFact]
    public async Task Docker_over_TLS_presents_the_client_certificate_and_verifies_the_daemon()
    {
        using var certificates = new TestCertificates();
        using var other = new TestCertificates();
        await using var proxy = new TlsDockerProxy(certificates, Sandbox.Current.DockerHost!["unix://".Length..]);
        var host = $"tcp://127.0.0.1:{proxy.Port}";

        using var tls = Create(dockerHost: host, dockerCertPath: certificates.Folder);
        var version = await DockerConnections.CallAsync(TestEnvironments.Context(tls), "version", null, (client, token) => client.System.GetVersionAsync(token));
        Assert.False(string.IsNullOrEmpty(version.APIVersion));
        Assert.True(proxy.Authenticated > 0);

        // A daemon whose certificate our CA did not sign is refused, as is speaking plain HTTP to it.
        using var wrongCa = Create(dockerHost: host, dockerCertPath: other.Folder);
        await Assert.ThrowsAsync<PuoException>(() => DockerConnections.CallAsync(TestEnvironments.Context(wrongCa, 5), "version", null, (client, token) => client.System.GetVersionAsync(token)));
        using var plain = Create(dockerHost: host);
        await Assert.ThrowsAsync<PuoException>(() => DockerConnections.CallAsync(TestEnvironments.Context(plain, 5), "version", null, (client, token) => client.System.GetVersionAsync(token)));
    }

    private sealed class TlsDockerProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private int _authenticated;

        public TlsDockerProxy(TestCertificates certificates, string socketPath)
        {
            _listener.Start();
            _accepting = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    TcpClient client;
                    try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
                    catch { return; }
                    _ = Task.Run(() => ServeAsync(client, certificates, socketPath));
                }
            });
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public int Authenticated => Volatile.Read(ref _authenticated);

        private async Task ServeAsync(TcpClient client, TestCertificates certificates, string socketPath)
        {
            using (client)
            {
                try
                {
                    await using var tls = new SslStream(client.GetStream(), false, (_, certificate, _, _) => IssuedBy(certificate, certificates.Authority));
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                    {
                        ServerCertificate = certificates.Server, ClientCertificateRequired = true,
                    }, _stop.Token);
                    Interlocked.Increment(ref _authenticated);
                    using var docker = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await docker.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), _stop.Token);
                    await using var daemon = new NetworkStream(docker, ownsSocket: false);
                    await Task.WhenAny(tls.CopyToAsync(daemon, _stop.Token), daemon.CopyToAsync(tls, _stop.Token));
                }
                catch
                {
                    // A refused handshake or a closed connection ends this one only.
                }
            }
        }

        private static bool IssuedBy(X509Certificate? certificate, X509Certificate2 authority) =>
            certificate is not null && DockerTls.ChainsTo(certificate, authority);

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _accepting.ContinueWith(_ => { });
        }
    }
}
