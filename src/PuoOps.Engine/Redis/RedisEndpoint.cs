using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>
/// The Redis side of an environment, from a StackExchange.Redis configuration string
/// ("host:port,password=...") or a redis:// / rediss:// URI as in REDIS_URL.
/// </summary>
internal sealed class RedisEndpoint
{
    private RedisEndpoint(ConfigurationOptions options)
    {
        Options = options;
        DisplayName = string.Join(",", options.EndPoints.Select(FormatEndPoint)) + "/" + (options.DefaultDatabase ?? 0);
    }

    /// <summary>A fresh copy each time: ConfigurationOptions is mutable and holds the password.</summary>
    public ConfigurationOptions CreateOptions() => Options.Clone();

    private ConfigurationOptions Options { get; }
    public string DisplayName { get; }
    public int Database => Options.DefaultDatabase ?? 0;

    public override string ToString() => DisplayName;

    public static RedisEndpoint Parse(string value)
    {
        ConfigurationOptions options;
        var scheme = value.IndexOf("://", StringComparison.Ordinal) is var at and > 0 ? value[..at] : null;
        if (scheme is not null && !scheme.Equals("redis", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase))
            throw Invalid($"The Redis connection string has the scheme '{scheme}://', which Redis does not speak: give redis://, rediss:// (TLS) or host:port,password=...");
        try
        {
            options = scheme is not null ? FromUrl(value) : ConfigurationOptions.Parse(value);
        }
        catch (ArgumentException ex)
        {
            throw Invalid($"The Redis connection string is not valid: {ex.Message}");
        }
        if (options.EndPoints.Count == 0)
            throw Invalid("The Redis connection string names no host.");
        return new RedisEndpoint(options);
    }

    private static ConfigurationOptions FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
            throw Invalid("The Redis URL must look like redis://:password@host:6379/0.");
        var options = new ConfigurationOptions { Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase) };
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

    private static PuoException Invalid(string message) => new(ErrorKind.InvalidArgument, "PuoOps.Redis.ConnectionString", message);
}
