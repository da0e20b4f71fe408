using System.Net;
using Npgsql;

namespace PuoOps.Engine.Postgres;

/// <summary>
/// The PostgreSQL side of an environment: the full connection string (internal, holds the password)
/// and a display name without it. Built from an Npgsql connection string or a postgres:// URI.
/// </summary>
internal sealed class PostgresEndpoint
{
    private PostgresEndpoint(NpgsqlConnectionStringBuilder builder)
    {
        ConnectionString = builder.ConnectionString;
        Host = builder.Host!;
        Port = builder.Port;
        Database = builder.Database ?? builder.Username ?? "postgres";
        User = builder.Username ?? "";
        DisplayName = $"{User}@{Host}:{Port}/{Database}";
        var remote = Host.Split(',').Select(h => h.Split(':')[0]).Where(h => !TransportSecurity.IsLocal(h)).ToList();
        if (remote.Count > 0 && builder.SslMode is not (SslMode.VerifyCA or SslMode.VerifyFull))
            SecurityWarning = $"PostgreSQL at {string.Join(",", remote)}:{Port} is not on this machine, and sslmode={LibpqSslMode(builder.SslMode)} does not verify its certificate: " +
                              "another machine on the way could pose as the server and receive the password. Add sslmode=verify-full&sslrootcert=<ca.pem> to the URL " +
                              "(SSL Mode=VerifyFull;Root Certificate=<ca.pem> in a connection string).";
    }

    /// <summary>Set when the server is remote and its certificate is not verified: what the environment warns about once.</summary>
    public string? SecurityWarning { get; }

    /// <summary>An Npgsql SslMode as libpq's sslmode names it.</summary>
    internal static string LibpqSslMode(SslMode mode) => mode switch
    {
        SslMode.Disable => "disable",
        SslMode.Allow => "allow",
        SslMode.Require => "require",
        SslMode.VerifyCA => "verify-ca",
        SslMode.VerifyFull => "verify-full",
        _ => "prefer",
    };

    public string ConnectionString { get; }
    public string Host { get; }
    public int Port { get; }
    public string Database { get; }
    public string User { get; }
    public string DisplayName { get; }

    public override string ToString() => DisplayName;

    /// <summary>Null when neither a connection string, a URL nor a credential names a server.</summary>
    public static PostgresEndpoint? From(string? connectionString, string? databaseUrl, NetworkCredential? credential)
    {
        if (connectionString is null && databaseUrl is null)
            return null;
        var builder = databaseUrl is not null ? FromUrl(databaseUrl) : FromConnectionString(connectionString!);
        if (credential is not null)
        {
            if (!string.IsNullOrEmpty(credential.UserName))
                builder.Username = credential.UserName;
            builder.Password = credential.Password;
        }
        if (string.IsNullOrWhiteSpace(builder.Host))
            throw Invalid("The PostgreSQL connection names no host.");
        if (string.IsNullOrEmpty(builder.ApplicationName))
            builder.ApplicationName = "PuoOps";
        // Secrets never come back out of an open connection's ConnectionString.
        builder.PersistSecurityInfo = false;
        return new PostgresEndpoint(builder);
    }

    private static NpgsqlConnectionStringBuilder FromConnectionString(string value)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(value);
        }
        catch (ArgumentException ex)
        {
            // Npgsql's message names the bad keyword, never the value, so it is safe to show.
            throw Invalid($"The PostgreSQL connection string is not valid: {ex.Message}");
        }
    }

    /// <summary>
    /// Parses postgres://user:password@host:port/database?sslmode=...&amp;sslrootcert=...&amp;sslcert=...&amp;sslkey=...&amp;sslpassword=...&amp;application_name=...
    /// </summary>
    private static NpgsqlConnectionStringBuilder FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != "postgres" && uri.Scheme != "postgresql"))
            throw Invalid("The database URL must look like postgres://user:password@host:5432/database.");
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.IdnHost.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
        };
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
            builder.Database = database;
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':');
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var val = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            switch (key)
            {
                case "sslmode":
                    builder.SslMode = val switch
                    {
                        "disable" => SslMode.Disable,
                        "allow" => SslMode.Allow,
                        "prefer" => SslMode.Prefer,
                        "require" => SslMode.Require,
                        "verify-ca" => SslMode.VerifyCA,
                        "verify-full" => SslMode.VerifyFull,
                        _ => throw Invalid($"The database URL has an unknown sslmode '{val}'."),
                    };
                    break;
                // The server's CA and our client certificate, as libpq names them (files on this machine).
                case "sslrootcert": builder.RootCertificate = val; break;
                case "sslcert": builder.SslCertificate = val; break;
                case "sslkey": builder.SslKey = val; break;
                // The passphrase of an encrypted sslkey: a secret like the password, kept only in ConnectionString.
                case "sslpassword": builder.SslPassword = val; break;
                case "application_name": builder.ApplicationName = val; break;
                case "connect_timeout" when int.TryParse(val, out var seconds): builder.Timeout = seconds; break;
                case "options": builder.Options = val; break;
                default: throw Invalid($"The database URL has a parameter PuoOps does not know: '{key}'.");
            }
        }
        return builder;
    }

    private static PuoException Invalid(string message) =>
        new(ErrorKind.InvalidArgument, "PuoOps.Postgres.ConnectionString", message);
}
