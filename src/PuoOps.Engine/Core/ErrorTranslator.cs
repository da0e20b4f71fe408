using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Npgsql;
using PuoOps.Engine.Http;
using PuoOps.Engine.Postgres;
using StackExchange.Redis;

namespace PuoOps.Engine;

/// <summary>
/// The one place that turns a library's exception (Npgsql, StackExchange.Redis, Docker.DotNet, sockets,
/// timeouts) into a <see cref="PuoException"/> an operator can act on: a kind, a stable id, the target
/// and what to try next. Messages are built from the environment's display names, never from
/// connection strings, so no secret can leak through an error.
/// </summary>
public static class ErrorTranslator
{
    public static PuoException Translate(Exception exception, PuoEnvironment? environment)
    {
        switch (exception)
        {
            case PuoException puo:
                return puo;
            case AggregateException { InnerExceptions.Count: 1 } aggregate:
                return Translate(aggregate.InnerException!, environment);
            case NpgsqlException lost when PostgresConnections.IsBroken(lost) && lost is not PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow }:
                return ConnectionLost(lost, environment?.PostgresEndpoint?.DisplayName ?? "PostgreSQL");
            case PostgresException postgres:
                return FromPostgres(postgres, environment?.PostgresEndpoint?.DisplayName ?? "PostgreSQL");
            case NpgsqlException npgsql:
                return FromConnectionFailure(npgsql, "PuoOps.Postgres", "PostgreSQL", environment?.PostgresEndpoint?.DisplayName, "Test-PuoPostgres",
                    "Run as a user allowed to use it.");
            case RedisConnectionException redis:
                return FromRedisConnection(redis, environment?.RedisEndpoint?.DisplayName ?? "Redis");
            case RedisTimeoutException:
                return new PuoException(ErrorKind.Timeout, "PuoOps.Redis.Timeout",
                    $"Redis at {environment?.RedisEndpoint?.DisplayName} did not answer in time. Check it with Test-PuoRedis, or raise -TimeoutSec.",
                    environment?.RedisEndpoint?.DisplayName, exception);
            case RedisServerException server:
                return FromRedisServer(server, environment?.RedisEndpoint?.DisplayName ?? "Redis");
            case DockerApiException docker:
                return FromDocker(docker, environment?.DockerHost ?? "Docker", null);
            case HttpRequestException or SocketException or IOException when IsDocker(exception):
                return FromConnectionFailure(exception, "PuoOps.Docker", "The Docker daemon", environment?.DockerHost, "docker version", DockerSocketDenied);
            case UnauthorizedAccessException:
                return new PuoException(ErrorKind.PermissionDenied, "PuoOps.PermissionDenied", exception.Message, null, exception);
            case TimeoutException or OperationCanceledException:
                return new PuoException(ErrorKind.Timeout, "PuoOps.Timeout",
                    "The operation did not finish in time. Raise -TimeoutSec, or check that the service answers.", null, exception);
            case ArgumentException argument:
                return new PuoException(ErrorKind.InvalidArgument, "PuoOps.InvalidArgument", argument.Message, argument.ParamName, exception);
            default:
                return new PuoException(ErrorKind.InvalidOperation, "PuoOps.Unexpected", exception.Message, null, exception);
        }
    }

    /// <summary>
    /// A failed Docker call: the daemon's HTTP answer or the socket's failure, naming the host and the
    /// container or service (<paramref name="target"/>) the call was about.
    /// </summary>
    public static PuoException TranslateDocker(Exception exception, string host, string? target)
    {
        switch (exception)
        {
            case PuoException puo:
                return puo;
            case AggregateException { InnerExceptions.Count: 1 } aggregate:
                return TranslateDocker(aggregate.InnerException!, host, target);
            case DockerApiException docker:
                return FromDocker(docker, host, target);
            case HttpRequestException or SocketException or IOException or UnauthorizedAccessException:
                return FromConnectionFailure(exception, "PuoOps.Docker", "The Docker daemon", host, "docker version (with DOCKER_HOST set to it)", DockerSocketDenied);
            default:
                return Translate(exception, null);
        }
    }

    /// <summary>
    /// An HTTP call that got no answer: refused, unknown host (DNS), TLS refused (with what was wrong with the
    /// certificate the server presented), a broken answer, or no answer within the timeout.
    /// </summary>
    internal static PuoException TranslateHttp(Exception exception, Uri url, int timeoutSeconds, bool timedOut, TlsCertificate? certificate)
    {
        if (exception is PuoException puo)
            return puo;
        var shown = HttpUrl.Display(url);
        if (timedOut)
            return new PuoException(ErrorKind.Timeout, "PuoOps.Http.Timeout",
                $"{shown} did not answer within {timeoutSeconds} s. Check that the service runs and is not stuck, or raise -TimeoutSec.", shown, exception);
        if (exception is not HttpRequestException http)
            return Translate(exception, null);
        var socket = FindInner<SocketException>(exception);
        return http.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => new PuoException(ErrorKind.Connection, "PuoOps.Http.Dns",
                $"{shown}: the host name '{url.Host}' does not resolve (DNS lookup failed). Check the URL and the resolver.", shown, exception),
            HttpRequestError.ConnectionError when socket?.SocketErrorCode == SocketError.ConnectionRefused => new PuoException(ErrorKind.Connection,
                "PuoOps.Http.Connect", $"{shown} refused the connection: is the service running and listening on port {url.Port}?", shown, exception),
            HttpRequestError.ConnectionError => new PuoException(ErrorKind.Connection, "PuoOps.Http.Connect",
                $"{shown} could not be reached ({socket?.SocketErrorCode.ToString() ?? http.Message}). Check the address and the network path.", shown, exception),
            HttpRequestError.SecureConnectionError => new PuoException(ErrorKind.Connection, "PuoOps.Http.Tls",
                $"{shown}: TLS failed: {TlsProblem(certificate, exception)}", shown, exception),
            _ => new PuoException(ErrorKind.Connection, "PuoOps.Http.Protocol",
                $"{shown} did not give a valid HTTP answer ({http.HttpRequestError}): {http.Message}", shown, exception),
        };
    }

    private static string TlsProblem(TlsCertificate? certificate, Exception exception)
    {
        if (certificate is null)
            return (FindInner<System.Security.Authentication.AuthenticationException>(exception) ?? exception).Message;
        var chain = certificate.ChainStatus;
        var now = DateTimeOffset.UtcNow;
        var problem =
            certificate.NotAfter < now ? $"the certificate expired on {certificate.NotAfter:yyyy-MM-dd HH:mm} UTC"
            : chain.HasFlag(System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.NotTimeValid) ? "the certificate is not valid yet"
            : certificate.Errors.HasFlag(System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) ? "the certificate is for another host name"
            : chain.HasFlag(System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.UntrustedRoot)
              || chain.HasFlag(System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.PartialChain)
                ? "the certificate is not trusted (self-signed, or its CA is not in the trust store)"
            : chain.HasFlag(System.Security.Cryptography.X509Certificates.X509ChainStatusFlags.Revoked) ? "the certificate was revoked"
            : $"the certificate was refused ({certificate.Errors}; {chain})";
        return $"{problem}. Subject: {certificate.Subject}; expires {certificate.NotAfter:yyyy-MM-dd} UTC.";
    }

    /// <summary>A socket or HTTP failure raised under a Docker.DotNet call: its frames' methods, not its text, tell.</summary>
    private static bool IsDocker(Exception exception) =>
        ThrownUnder(exception, typeof(DockerClient).Assembly) || (exception.InnerException is { } inner && ThrownUnder(inner, typeof(DockerClient).Assembly));

    private static bool ThrownUnder(Exception exception, System.Reflection.Assembly assembly) =>
        new System.Diagnostics.StackTrace(exception, fNeedFileInfo: false).GetFrames().Any(frame => frame.GetMethod()?.DeclaringType?.Assembly == assembly);

    private static PuoException FromPostgres(PostgresException e, string target)
    {
        var (kind, id, hint) = e.SqlState switch
        {
            PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification =>
                (ErrorKind.Authentication, "Authentication", "Check the user and password of the environment (-Credential or the URL)."),
            PostgresErrorCodes.InvalidCatalogName => (ErrorKind.NotFound, "DatabaseNotFound", "Check the database name of the environment."),
            PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedObject or PostgresErrorCodes.InvalidSchemaName or PostgresErrorCodes.UndefinedColumn =>
                (ErrorKind.NotFound, "ObjectNotFound", "Check the name; list what exists with Get-PuoTableSize or Get-PuoIndexUsage."),
            PostgresErrorCodes.InsufficientPrivilege => (ErrorKind.PermissionDenied, "PermissionDenied",
                e.Routine == "aclcheck_error" // the server's privilege check on an object (routine field: not translated, unlike the message)
                    ? "The role lacks a privilege on it (reading it, as a query, pg_prewarm or pg_dump do, needs SELECT): grant it, or connect as a role that has it."
                    : "Connect as a role with the needed privilege."),
            PostgresErrorCodes.LockNotAvailable => (ErrorKind.ResourceUnavailable, "LockTimeout", "Another transaction holds the lock; find it with Get-PuoBlockingQuery, or retry later."),
            PostgresErrorCodes.QueryCanceled => (ErrorKind.Timeout, "Canceled", "The statement was canceled (statement timeout, -TimeoutSec or an operator)."),
            PostgresErrorCodes.TooManyConnections => (ErrorKind.ResourceUnavailable, "TooManyConnections", "The server is out of connection slots; see Get-PuoConnectionStat."),
            PostgresErrorCodes.CannotConnectNow =>
                (ErrorKind.Connection, "Unavailable", "The server is starting up or shutting down; retry shortly."),
            _ when e.SqlState.StartsWith("42", StringComparison.Ordinal) || e.SqlState.StartsWith("22", StringComparison.Ordinal) =>
                (ErrorKind.InvalidArgument, "InvalidStatement", "Check the statement or the value given."),
            _ => (ErrorKind.InvalidOperation, "ServerError", ""),
        };
        var message = $"PostgreSQL at {target}: {e.MessageText} (SQLSTATE {e.SqlState}).";
        return new PuoException(kind, "PuoOps.Postgres." + id, hint.Length == 0 ? message : message + " " + hint, target, e);
    }

    /// <summary>A connection that broke under a command (see PostgresConnections.IsBroken): what happened, and that a change is never retried.</summary>
    private static PuoException ConnectionLost(NpgsqlException e, string target) =>
        new(ErrorKind.Connection, "PuoOps.Postgres.ConnectionLost",
            $"PostgreSQL at {target} closed the connection ({PostgresConnections.Reason(e)}): the server restarted, or the session was terminated. " +
            "A read is retried once on a fresh connection, a change is never retried: check whether it took effect, then run it again.", target, e);

    /// <summary>What to do when the Docker socket's file mode keeps the user out (EACCES on connect).</summary>
    private const string DockerSocketDenied =
        "The user may not open its socket: add the user to the group that owns it (usually docker: sudo usermod -aG docker $USER, then log in again), or run as root.";

    private static PuoException FromConnectionFailure(Exception e, string idPrefix, string service, string? target, string checkCommand, string permissionHint)
    {
        var socket = FindInner<SocketException>(e);
        var where = target is null ? "" : $" at {target}";
        if (FindInner<TimeoutException>(e) is not null)
            return new PuoException(ErrorKind.Timeout, idPrefix + ".Timeout",
                $"{service}{where} did not answer in time. Check it with {checkCommand}, or raise -TimeoutSec.", target, e);
        if (FindInner<UnauthorizedAccessException>(e) is not null || socket?.SocketErrorCode == SocketError.AccessDenied)
            return new PuoException(ErrorKind.PermissionDenied, idPrefix + ".PermissionDenied",
                $"{service}{where}: permission denied. {permissionHint}", target, e);
        var reason = socket?.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "refused the connection: is it running?",
            SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => "is an unknown host: check the host name.",
            SocketError.AddressNotAvailable => "is not reachable: check the address or socket path.",
            SocketError.TimedOut => "did not answer in time.",
            null => "could not be reached: " + e.Message,
            var other => $"could not be reached ({other}).",
        };
        return new PuoException(ErrorKind.Connection, idPrefix + ".Connect", $"{service}{where} {reason} Check it with {checkCommand}.", target, e);
    }

    private static PuoException FromRedisConnection(RedisConnectionException e, string target) =>
        e.FailureType == ConnectionFailureType.AuthenticationFailure
            ? new PuoException(ErrorKind.Authentication, "PuoOps.Redis.Authentication",
                $"Redis at {target} rejected the credentials. Check the password of the environment (REDIS_URL or -RedisConnectionString).", target, e)
            : new PuoException(ErrorKind.Connection, "PuoOps.Redis.Connect",
                $"Redis at {target} could not be reached ({e.FailureType}). Is it running? Check it with Test-PuoRedis.", target, e);

    private static PuoException FromRedisServer(RedisServerException e, string target)
    {
        var message = e.Message;
        if (message.StartsWith("NOAUTH", StringComparison.Ordinal) || message.StartsWith("WRONGPASS", StringComparison.Ordinal))
            return new PuoException(ErrorKind.Authentication, "PuoOps.Redis.Authentication",
                $"Redis at {target} rejected the credentials ({message.Split(' ')[0]}). Check the password of the environment.", target, e);
        // A renamed or disabled command is no error code (just ERR): RedisConnections.RequireCommandAsync asks the server's command table first.
        if (message.StartsWith("NOPERM", StringComparison.Ordinal))
            return RedisCommandDisabled(target, $"Redis at {target} does not allow this command: {message}", e);
        return new PuoException(ErrorKind.InvalidOperation, "PuoOps.Redis.ServerError", $"Redis at {target}: {message}", target, e);
    }

    /// <summary>A command the server refuses to the ACL user (NOPERM) or does not have under its name (renamed or disabled).</summary>
    internal static PuoException RedisCommandDisabled(string target, string message, Exception? inner = null) =>
        new(ErrorKind.PermissionDenied, "PuoOps.Redis.CommandDisabled", message, target, inner);

    private static PuoException FromDocker(DockerApiException e, string host, string? target)
    {
        var detail = string.IsNullOrWhiteSpace(e.ResponseBody) ? e.Message : DockerMessage(e.ResponseBody);
        var what = target is null ? $"Docker at {host}" : $"Docker at {host}, {target}";
        return e.StatusCode switch
        {
            HttpStatusCode.NotFound => new PuoException(ErrorKind.NotFound, "PuoOps.Docker.NotFound",
                $"{what}: {detail}. List what exists with Get-PuoContainer or docker service ls.", target ?? host, e),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                new PuoException(ErrorKind.PermissionDenied, "PuoOps.Docker.PermissionDenied", $"{what}: the daemon refused the request: {detail}", target ?? host, e),
            HttpStatusCode.Conflict or HttpStatusCode.NotModified =>
                new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.Conflict", $"{what}: {detail}", target ?? host, e),
            HttpStatusCode.ServiceUnavailable => DockerUnavailable(what, detail, target ?? host, e),
            _ => new PuoException(ErrorKind.InvalidOperation, "PuoOps.Docker.ApiError", $"{what}: {detail}", target ?? host, e),
        };
    }

    private static PuoException DockerUnavailable(string what, string detail, string target, Exception inner) =>
        new(ErrorKind.ResourceUnavailable, "PuoOps.Docker.Unavailable", $"{what}: the daemon is unavailable: {detail}", target, inner);

    /// <summary>
    /// Docker.DotNet's own type for the daemon's 503 to a Swarm call (a <see cref="DockerApiException"/>). Whether the node
    /// is outside a swarm or a busy manager, <see cref="Docker.DockerConnections"/> asks the daemon's /info; never the text.
    /// </summary>
    internal static bool IsSwarmServiceUnavailable(Exception exception) => exception is DockerSwarmNodeNotParticipatingException;

    /// <summary>A Swarm call to a daemon whose /info says it is not a swarm manager (LocalNodeState, ControlAvailable).</summary>
    internal static PuoException NotASwarmManager(string host, string? target, string nodeState, Exception inner) =>
        new(ErrorKind.InvalidOperation, "PuoOps.Docker.NotASwarmManager",
            $"Docker at {host}{(target is null ? "" : ", " + target)}: this node is not a swarm manager (swarm state: {nodeState}). Swarm services need a swarm manager (docker swarm init).",
            target ?? host, inner);

    /// <summary>The daemon answers errors as {"message":"..."}; show just the message.</summary>
    private static string DockerMessage(string body)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            if (json.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && json.RootElement.TryGetProperty("message", out var message) && message.GetString() is { Length: > 0 } text)
                return text.TrimEnd('.');
        }
        catch (System.Text.Json.JsonException)
        {
        }
        return body.Trim().TrimEnd('.');
    }

    private static T? FindInner<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T match)
                return match;
        return null;
    }
}
