using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Docker.DotNet.X509;

namespace PuoOps.Engine.Docker;

/// <summary>
/// TLS to a Docker daemon as the docker CLI does it with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: the folder's
/// cert.pem and key.pem are our client certificate, and the daemon's certificate must chain to its ca.pem and
/// name the host. Docker.DotNet.Enhanced.X509 carries them into the client's handler.
/// </summary>
internal static class DockerTls
{
    public static void RequireFiles(string certPath) => TlsCertificateFolder.Require(certPath, "PuoOps.Docker.CertPath", "-DockerCertPath");

    public static CertificateCredentials Credentials(string certPath)
    {
        var client = TlsCertificateFolder.ClientCertificate(Path.Combine(certPath, TlsCertificateFolder.Certificate), Path.Combine(certPath, TlsCertificateFolder.Key));
        var authority = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(certPath, TlsCertificateFolder.Authority)));
        return new CertificateCredentials(client) { ServerCertificateValidationCallback = (_, certificate, _, errors) => Trusted(certificate, errors, authority) };
    }

    /// <summary>The daemon's certificate names the host and chains to our CA alone (not to the machine's public roots).</summary>
    private static bool Trusted(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 authority) =>
        certificate is not null && (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0
        && ChainsTo(certificate, authority);

    /// <summary>Whether <paramref name="certificate"/> chains to <paramref name="authority"/> as the only trusted root.</summary>
    internal static bool ChainsTo(X509Certificate certificate, X509Certificate2 authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(certificate);
        return chain.Build(presented);
    }
}
