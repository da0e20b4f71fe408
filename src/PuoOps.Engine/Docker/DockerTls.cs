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
    private static readonly string[] Files = ["ca.pem", "cert.pem", "key.pem"];

    public static void RequireFiles(string certPath)
    {
        var missing = Files.Where(f => !File.Exists(Path.Combine(certPath, f))).ToList();
        if (missing.Count > 0)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Docker.CertPath",
                $"The Docker certificate folder '{certPath}' has no {string.Join(", ", missing)}; it needs ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH does.", certPath);
    }

    public static CertificateCredentials Credentials(string certPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(certPath, "cert.pem"), Path.Combine(certPath, "key.pem"));
        // Re-imported from PKCS#12 so the private key is usable by the TLS stack on every platform.
        var client = new X509Certificate2(pem.Export(X509ContentType.Pkcs12));
        var authority = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(certPath, "ca.pem")));
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
