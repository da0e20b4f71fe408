using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>
/// The Redis side of an environment, from a StackExchange.Redis configuration string
/// ("host:port,password=...") or a redis:// / rediss:// URI as in REDIS_URL.
/// </summary>
internal sealed class RedisEndpoint
{
    private RedisEndpoint(ConfigurationOptions options, bool verifiesCertificate)
    {
        Options = options;
        DisplayName = string.Join(",", options.EndPoints.Select(FormatEndPoint)) + "/" + (options.DefaultDatabase ?? 0);
        var remote = options.EndPoints.Select(FormatEndPoint).Where(e => !TransportSecurity.IsLocal(HostOf(e))).ToList();
        if (remote.Count > 0 && !options.Ssl)
            SecurityWarning = $"Redis at {string.Join(",", remote)} is not on this machine and is reached without TLS: its password and every key cross the network in clear. " +
                              "Use rediss:// (with ssl_ca_certs=<ca.pem> when its certificate is not from a public CA).";
        else if (remote.Count > 0 && !verifiesCertificate)
            SecurityWarning = $"Redis at {string.Join(",", remote)} is not on this machine, and ssl_cert_reqs=none does not verify its certificate: another machine " +
                              "on the way could pose as the server and receive the password. Give ssl_ca_certs=<ca.pem> instead.";
    }

    private static string HostOf(string endPoint) => endPoint.LastIndexOf(':') is var colon and > 0 ? endPoint[..colon] : endPoint;

    /// <summary>Set when the server is remote and not reached over verified TLS: what the environment warns about once.</summary>
    public string? SecurityWarning { get; }

    /// <summary>A fresh copy each time: ConfigurationOptions is mutable and holds the password.</summary>
    public ConfigurationOptions CreateOptions() => Options.Clone();

    private ConfigurationOptions Options { get; }
    public string DisplayName { get; }
    public int Database => Options.DefaultDatabase ?? 0;

    public override string ToString() => DisplayName;

    /// <param name="certPath">
    /// -RedisCertPath: a folder with ca.pem, cert.pem and key.pem (<see cref="TlsCertificateFolder"/>). The server's
    /// certificate must then chain to ca.pem, and cert.pem/key.pem are presented to a server that demands a client
    /// certificate (tls-auth-clients). Needs TLS (rediss:// or ssl=true); the same as the URL's ssl_ca_certs,
    /// ssl_certfile and ssl_keyfile, which it may not be mixed with.
    /// </param>
    public static RedisEndpoint Parse(string value, string? certPath = null)
    {
        ConfigurationOptions options;
        var scheme = value.IndexOf("://", StringComparison.Ordinal) is var at and > 0 ? value[..at] : null;
        if (scheme is not null && !scheme.Equals("redis", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase))
            throw Invalid($"The Redis connection string has the scheme '{scheme}://', which Redis does not speak: give redis://, rediss:// (TLS) or host:port,password=...");
        var verifies = true;
        var urlNamesCertificates = false;
        try
        {
            options = scheme is not null ? FromUrl(value, out verifies, out urlNamesCertificates) : ConfigurationOptions.Parse(value);
        }
        catch (ArgumentException ex)
        {
            throw Invalid($"The Redis connection string is not valid: {ex.Message}");
        }
        if (options.EndPoints.Count == 0)
            throw Invalid("The Redis connection string names no host.");
        if (certPath is not null)
        {
            if (!options.Ssl)
                throw Invalid($"-RedisCertPath '{certPath}' needs TLS to Redis: use rediss:// (or ssl=true in a configuration string).", certPath);
            if (urlNamesCertificates || !verifies)
                throw Invalid("Give the Redis certificates either as -RedisCertPath or in the URL (ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs), not both.", certPath);
            TlsCertificateFolder.Require(certPath, "PuoOps.Redis.CertPath", "-RedisCertPath");
            options.TrustIssuer(Path.Combine(certPath, TlsCertificateFolder.Authority));
            var client = TlsCertificateFolder.ClientCertificate(Path.Combine(certPath, TlsCertificateFolder.Certificate), Path.Combine(certPath, TlsCertificateFolder.Key));
            options.CertificateSelection += (_, _, _, _, _) => client;
        }
        return new RedisEndpoint(options, verifies || certPath is not null);
    }

    /// <summary>
    /// redis[s]://[user]:password@host:port/db, with the TLS options of a Python stack's REDIS_URL (redis-py's names):
    /// ssl_ca_certs (the CA that signed the server's certificate), ssl_certfile and ssl_keyfile (our client
    /// certificate, PEM), ssl_cert_reqs (required, the default; none skips the check and is warned about).
    /// </summary>
    private static ConfigurationOptions FromUrl(string value, out bool verifiesCertificate, out bool namesCertificates)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
            throw Invalid("The Redis URL must look like redis://:password@host:6379/0.");
        var options = new ConfigurationOptions { Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase) };
        verifiesCertificate = true;
        string? certificateFile = null, keyFile = null;
        namesCertificates = false;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var val = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            if (!options.Ssl)
                throw Invalid($"The Redis URL has the TLS parameter '{key}' but the scheme redis://; use rediss:// for TLS.");
            switch (key)
            {
                case "ssl_ca_certs":
                    options.TrustIssuer(RequireFile(val, key));
                    namesCertificates = true;
                    break;
                case "ssl_certfile": certificateFile = RequireFile(val, key); break;
                case "ssl_keyfile": keyFile = RequireFile(val, key); break;
                case "ssl_cert_reqs" when val is "required" or "CERT_REQUIRED": break;
                case "ssl_cert_reqs" when val is "none" or "CERT_NONE":
                    verifiesCertificate = false;
                    options.CertificateValidation += (_, _, _, _) => true;
                    break;
                default: throw Invalid($"The Redis URL has a parameter PuoOps does not know: '{key}' (known: ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs).");
            }
        }
        if (certificateFile is not null)
        {
            var certificate = TlsCertificateFolder.ClientCertificate(certificateFile, keyFile);
            options.CertificateSelection += (_, _, _, _, _) => certificate;
            namesCertificates = true;
        }
        else if (keyFile is not null)
            throw Invalid("The Redis URL has ssl_keyfile without ssl_certfile.");
        options.EndPoints.Add(uri.IdnHost.Trim('[', ']'), uri.IsDefaultPort || uri.Port <= 0 ? 6379 : uri.Port);
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            var user = Uri.UnescapeDataString(colon < 0 ? "" : uri.UserInfo[..colon]);
            var password = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[(colon + 1)..]);
            if (user.Length > 0)
                options.User = user;
            if (password.Length > 0)
                options.Password = password;
        }
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
            options.DefaultDatabase = int.TryParse(path, out var db) && db >= 0 ? db : throw Invalid($"The Redis URL names database '{path}', which is not a number.");
        return options;
    }

    internal static string FormatEndPoint(System.Net.EndPoint endPoint) => endPoint switch
    {
        System.Net.DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        System.Net.IPEndPoint ip => ip.ToString(),
        _ => endPoint.ToString() ?? "",
    };

    private static string RequireFile(string path, string parameter) =>
        File.Exists(path) ? path : throw Invalid($"The Redis URL's {parameter} names '{path}', which is not a readable file.");

    private static PuoException Invalid(string message, string? target = null) => new(ErrorKind.InvalidArgument, "PuoOps.Redis.ConnectionString", message, target);
}
