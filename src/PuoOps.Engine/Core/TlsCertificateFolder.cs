using System.Security.Cryptography.X509Certificates;

namespace PuoOps.Engine;

/// <summary>
/// Client TLS files as docker's DOCKER_CERT_PATH lays them out, used for every service that takes a -...CertPath:
/// ca.pem (the CA that must have signed the server's certificate), cert.pem and key.pem (our client certificate).
/// </summary>
internal static class TlsCertificateFolder
{
    public const string Authority = "ca.pem", Certificate = "cert.pem", Key = "key.pem";

    private static readonly string[] Files = [Authority, Certificate, Key];

    /// <summary>InvalidArgument naming what is missing, when the folder lacks one of the three files.</summary>
    public static void Require(string certPath, string errorId, string parameter)
    {
        var missing = Files.Where(f => !File.Exists(Path.Combine(certPath, f))).ToList();
        if (missing.Count > 0)
            throw new PuoException(ErrorKind.InvalidArgument, errorId,
                $"The certificate folder '{certPath}' ({parameter}) has no {string.Join(", ", missing)}; it needs ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH does.", certPath);
    }

    /// <summary>A PEM certificate with its PEM key, re-imported from PKCS#12 so the TLS stack can use the key on every platform.</summary>
    public static X509Certificate2 ClientCertificate(string certificateFile, string? keyFile)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        return new X509Certificate2(pem.Export(X509ContentType.Pkcs12));
    }
}
