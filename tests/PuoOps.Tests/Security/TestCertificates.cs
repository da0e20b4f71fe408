using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PuoOps.Tests.Security;

/// <summary>
/// A private CA with a server certificate (localhost, 127.0.0.1) and a client certificate, written as PEM files
/// (ca.pem, server.pem, server-key.pem, cert.pem, key.pem, the names DOCKER_CERT_PATH uses) into a folder of its own.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        Folder = Directory.CreateTempSubdirectory("puo-tls-").FullName;
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=PuoOps test CA " + Guid.NewGuid().ToString("N")[..6], caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Authority = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
        Write("ca.pem", Authority.ExportCertificatePem());

        Server = Issue("CN=localhost", "server.pem", "server-key.pem", serverAuth: true);
        Client = Issue("CN=puoops-client", "cert.pem", "key.pem", serverAuth: false);
    }

    public string Folder { get; }
    public X509Certificate2 Authority { get; }
    public X509Certificate2 Server { get; }
    public X509Certificate2 Client { get; }
    public string Path(string file) => System.IO.Path.Combine(Folder, file);

    private X509Certificate2 Issue(string subject, string certificateFile, string keyFile, bool serverAuth)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }
        using var issued = request.Create(Authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), Guid.NewGuid().ToByteArray()[..8]);
        var withKey = issued.CopyWithPrivateKey(key);
        Write(certificateFile, withKey.ExportCertificatePem());
        Write(keyFile, key.ExportPkcs8PrivateKeyPem());
        // Re-imported so the TLS stack can use the key on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private void Write(string file, string pem)
    {
        File.WriteAllText(Path(file), pem);
        File.SetUnixFileMode(Path(file), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
        Client.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
