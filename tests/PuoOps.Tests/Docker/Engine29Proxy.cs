using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PuoOps.Tests.Docker;

/// <summary>
/// A unix socket in a temp directory that stands in front of the sandbox's real Docker socket and behaves like a
/// current Engine (29) on API versions: GET /version reports MinAPIVersion 1.44 and ApiVersion 1.52, and a path
/// versioned below 1.44 (or above 1.52) is refused with the engine's own 400 answer. No Engine 29 can run here,
/// so the rest is the sandbox's Engine 20.10, whose newest API is 1.41 and which refuses newer versioned paths
/// itself: an accepted /v1.44/../v1.52/ path is forwarded as /v1.41/. What this proves is the client's side:
/// it negotiates from /version, and a daemon that refuses everything below 1.44 still serves every cmdlet.
/// One request per connection (Connection: close), as Docker.DotNet's unix transport opens one per request.
/// </summary>
public sealed partial class Engine29Proxy : IDisposable
{
    public static readonly Version MinApiVersion = new(1, 44);
    public static readonly Version MaxApiVersion = new(1, 52);

    /// <summary>The API the sandbox's daemon (Engine 20.10) speaks; what accepted paths are rewritten to.</summary>
    private const string UpstreamApiVersion = "1.41";

    private readonly string _directory;
    private readonly string _upstream;
    private readonly Version _minimum;
    private readonly Version _maximum;
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _connections = [];

    /// <param name="upstream">The real daemon: unix:///path or /path.</param>
    /// <param name="minimum">The MinAPIVersion to report (1.44 by default, Engine 29's).</param>
    /// <param name="maximum">The ApiVersion to report (1.52 by default, Engine 29.0's).</param>
    public Engine29Proxy(string upstream, Version? minimum = null, Version? maximum = null)
    {
        _upstream = upstream.StartsWith("unix://", StringComparison.Ordinal) ? upstream["unix://".Length..] : upstream;
        _minimum = minimum ?? MinApiVersion;
        _maximum = maximum ?? MaxApiVersion;
        _directory = Directory.CreateTempSubdirectory("puo-engine29-").FullName;
        SocketPath = Path.Combine(_directory, "docker.sock");
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(64);
        _ = Task.Run(AcceptAsync);
    }

    public string SocketPath { get; }
    public string Host => "unix://" + SocketPath;

    /// <summary>Every request line the proxy received, as the client sent it.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    /// <summary>The request lines refused for their API version.</summary>
    public ConcurrentQueue<string> Refused { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _connections.Add(Task.Run(() => HandleAsync(client)));
        }
    }

    private async Task HandleAsync(Socket clientSocket)
    {
        using var client = new NetworkStream(clientSocket, ownsSocket: true);
        try
        {
            var (head, early) = await ReadHeadAsync(client);
            if (head is null)
                return;
            var lines = head.Split("\r\n");
            var parts = lines[0].Split(' ');
            Requests.Enqueue(lines[0]);
            var target = parts[1];
            if (VersionedPath().Match(target) is { Success: true } versioned)
            {
                var asked = Version.Parse(versioned.Groups[1].Value);
                if (asked < _minimum || asked > _maximum)
                {
                    Refused.Enqueue(lines[0]);
                    // The engine's own words (moby api/server/middleware/version.go), as HTTP 400.
                    var message = asked < _minimum
                        ? $"client version {asked} is too old. Minimum supported API version is {_minimum}, please upgrade your client to a newer version"
                        : $"client version {asked} is too new. Maximum supported API version is {_maximum}";
                    await WriteJsonAsync(client, "400 Bad Request", new JsonObject { ["message"] = message }.ToJsonString());
                    return;
                }
                target = $"/v{UpstreamApiVersion}{versioned.Groups[2].Value}";
            }
            var isVersion = target.Split('?')[0] is "/version" || target.Split('?')[0] == $"/v{UpstreamApiVersion}/version";
            // HTTP/1.0 for /version: the daemon then answers unchunked and closes, so the body is simply the rest.
            var request = new StringBuilder($"{parts[0]} {target} {(isVersion ? "HTTP/1.0" : parts[2])}\r\n");
            foreach (var header in lines.Skip(1).Where(l => l.Length > 0 && !l.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase)))
                request.Append(header).Append("\r\n");
            request.Append("Connection: close\r\n\r\n");

            using var upstreamSocket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await upstreamSocket.ConnectAsync(new UnixDomainSocketEndPoint(_upstream));
            using var upstream = new NetworkStream(upstreamSocket, ownsSocket: false);
            // One write: a daemon that answered and closed already must not make a second write fail.
            await upstream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()).Concat(early).ToArray());
            if (isVersion)
            {
                await RewriteVersionAsync(upstream, client);
                return;
            }
            // The answer until the daemon closes (Connection: close); the client's further bytes (a request body) meanwhile.
            // A client that hangs up first (a followed log it stopped reading) ends the daemon's side too.
            using var done = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var down = upstream.CopyToAsync(client, done.Token);
            var up = client.CopyToAsync(upstream, done.Token);
            if (await Task.WhenAny(up, down) == up && up.IsCompletedSuccessfully)
                done.Cancel();
            await down.ContinueWith(_ => { });
            done.Cancel();
            await up.ContinueWith(_ => { });
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A client or daemon that hung up: nothing to answer.
        }
    }

    /// <summary>Forwards the daemon's /version answer with the versions of the engine this proxy plays.</summary>
    private async Task RewriteVersionAsync(Stream upstream, Stream client)
    {
        using var answer = new MemoryStream();
        await upstream.CopyToAsync(answer);
        var text = Encoding.UTF8.GetString(answer.ToArray());
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        var version = JsonNode.Parse(body)!.AsObject();
        version["ApiVersion"] = _maximum.ToString();
        version["MinAPIVersion"] = _minimum.ToString();
        version["Version"] = "29.0.0";
        await WriteJsonAsync(client, "200 OK", version.ToJsonString());
    }

    private static async Task WriteJsonAsync(Stream client, string status, string json)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var head = $"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nApi-Version: {MaxApiVersion}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await client.WriteAsync(Encoding.ASCII.GetBytes(head));
        await client.WriteAsync(body);
    }

    /// <summary>The request head (up to the blank line) and whatever of the body came with it; null head when the client sent nothing.</summary>
    private static async Task<(string? Head, byte[] Early)> ReadHeadAsync(Stream client)
    {
        var buffer = new byte[64 * 1024];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await client.ReadAsync(buffer.AsMemory(filled));
            if (read == 0)
                return (null, []);
            filled += read;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
                return (Encoding.ASCII.GetString(buffer, 0, end), buffer[(end + 4)..filled]);
        }
        throw new IOException("The request head is larger than 64 KiB.");
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        Task.WhenAll(_connections).ContinueWith(_ => { }).Wait(TimeSpan.FromSeconds(5));
        Directory.Delete(_directory, recursive: true);
    }

    [GeneratedRegex(@"^/v([0-9]+\.[0-9]+)(/.*)$")]
    private static partial Regex VersionedPath();
}
