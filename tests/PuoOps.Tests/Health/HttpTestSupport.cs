using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PuoOps.Engine;
using PuoOps.Engine.Environments;
using PuoOps.StandIn;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Health;

/// <summary>Environments whose API and MCP are stand-ins a test started itself, and the certificates TLS tests need.</summary>
internal static class HttpTestSupport
{
    /// <summary>An environment whose API and MCP are the given stand-ins; with the sandbox's PostgreSQL, Redis and Docker when asked.</summary>
    public static PuoEnvironment Environment(StandInServer api, StandInServer? mcp = null, bool withServices = false) =>
        PuoEnvironment.Create(new EnvironmentSettings
        {
            Name = "xunit-http-" + Guid.NewGuid().ToString("N")[..8],
            ApiUrl = api.BaseUrl.ToString(),
            McpUrl = (mcp ?? api).BaseUrl.ToString(),
            PostgresConnectionString = withServices ? Sandbox.Current.PostgresConnectionString : null,
            RedisConnectionString = withServices ? Sandbox.Current.RedisConnectionString : null,
            DockerHost = withServices ? Sandbox.Current.DockerHost ?? "unix:///nonexistent.sock" : "unix:///nonexistent.sock",
        });

    public static OperationContext Context(PuoEnvironment environment, int timeoutSeconds = 15, CancellationToken cancellation = default) =>
        TestEnvironments.Context(environment, timeoutSeconds, cancellation);

    /// <summary>A certificate for 127.0.0.1 valid until <paramref name="notAfter"/>, signed by <paramref name="issuer"/> (self-signed without one).</summary>
    public static X509Certificate2 ServerCertificate(DateTimeOffset notAfter, X509Certificate2? issuer = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        using var created = issuer is null
            ? request.CreateSelfSigned(notBefore, notAfter)
            : request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(16)).CopyWithPrivateKey(key);
        // Kestrel needs the key in a form it can use for TLS: a round trip through PKCS#12 gives one.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }
}

/// <summary>
/// A test certificate authority trusted by this user for the test's duration (the CurrentUser Root store, which .NET
/// on Linux trusts besides the system's), removed again on dispose. Its key lives only in memory.
/// </summary>
internal sealed class TrustedTestAuthority : IDisposable
{
    public TrustedTestAuthority()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN=PuoOps xunit CA {Guid.NewGuid():N}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddYears(1));
        using var store = new X509Store(StoreName.Root, StoreLocation.CurrentUser);
        store.Open(OpenFlags.ReadWrite);
        store.Add(X509CertificateLoader.LoadCertificate(Certificate.RawData));
    }

    public X509Certificate2 Certificate { get; }

    public void Dispose()
    {
        using var store = new X509Store(StoreName.Root, StoreLocation.CurrentUser);
        store.Open(OpenFlags.ReadWrite);
        foreach (var trusted in store.Certificates.Find(X509FindType.FindByThumbprint, Certificate.Thumbprint, false))
            store.Remove(trusted);
        Certificate.Dispose();
    }
}
