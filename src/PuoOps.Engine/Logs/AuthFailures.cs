using System.Net;
using System.Runtime.InteropServices;
using PuoOps.Engine.Security;

namespace PuoOps.Engine.Logs;

/// <summary>
/// The runbook's <c>grep "401\|403" api_server.log</c> and its usual follow-up,
/// <c>grep -E '" (401|403) ' access.log | awk '{print $1}' | sort | uniq -c | sort -rn</c>: the requests answered with
/// the wanted statuses, from plain or gzip access logs, and their totals per client address.
/// </summary>
public static class AuthFailures
{
    /// <summary>The wanted requests of one file, in file order.</summary>
    public static IEnumerable<AuthFailureRequest> Requests(string file, AccessLogOptions options, LogScanStats stats,
        Action<ProgressInfo>? progress, CancellationToken cancellation)
    {
        var texts = new AccessLog.SharedTexts();
        var proxies = AuthFailureGroups.Format(options.TrustedProxies);
        foreach (var chunk in LogReader.Scan(file, c => AccessLog.Scan(c.Bytes, options, texts), stats, progress, cancellation))
        {
            stats.MalformedLines += chunk.Result.Malformed;
            foreach (var entry in chunk.Result.Entries)
            {
                yield return new AuthFailureRequest
                {
                    File = file,
                    LineNumber = chunk.FirstLineNumber + entry.Index,
                    Time = entry.Time,
                    IpAddress = entry.IpAddress,
                    RemoteAddress = entry.RemoteAddress,
                    StatusCode = entry.Status,
                    Method = entry.Method,
                    Path = entry.Path,
                    UserAgent = entry.UserAgent,
                    Line = entry.Line,
                    TrustedProxy = proxies,
                };
            }
        }
    }
}

/// <summary>
/// Totals per client address of the requests added to it. Memory grows with the number of addresses, not with
/// the log: each address keeps its counts and a bounded list of its most frequent paths and user agents. The
/// totals carry the trusted proxies of the search, for Block-PuoIpAddress to protect.
/// </summary>
public sealed class AuthFailureGroups(IEnumerable<IPNetwork>? trustedProxies = null)
{
    public const int TopPaths = 5;
    public const int TopUserAgents = 3;

    private readonly Dictionary<string, Group> _groups = new(StringComparer.Ordinal);
    private readonly string[] _trustedProxies = Format(trustedProxies ?? []);

    internal static string[] Format(IEnumerable<IPNetwork> networks) => networks.Select(IpNetworks.Format).ToArray();

    public void Add(AuthFailureRequest request)
    {
        ref var group = ref CollectionsMarshal.GetValueRefOrAddDefault(_groups, request.IpAddress, out _);
        group ??= new Group();
        group.Count++;
        group.Status401 += request.StatusCode == 401 ? 1 : 0;
        group.Status403 += request.StatusCode == 403 ? 1 : 0;
        if (request.Time is { } time)
        {
            group.FirstSeen = group.FirstSeen is { } first && first <= time ? first : time;
            group.LastSeen = group.LastSeen is { } last && last >= time ? last : time;
        }
        if (request.Path is { } path)
            group.Paths.Add(path);
        if (request.UserAgent is { } agent)
            group.UserAgents.Add(agent);
    }

    /// <summary>The addresses with at least <paramref name="threshold"/> requests, most first (as sort -rn).</summary>
    public IEnumerable<AuthFailure> Result(long threshold) =>
        _groups.Where(g => g.Value.Count >= threshold)
            .OrderByDescending(g => g.Value.Count).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new AuthFailure
            {
                IpAddress = g.Key,
                Count = g.Value.Count,
                Status401 = g.Value.Status401,
                Status403 = g.Value.Status403,
                FirstSeen = g.Value.FirstSeen,
                LastSeen = g.Value.LastSeen,
                Paths = g.Value.Paths.Top(TopPaths),
                UserAgents = g.Value.UserAgents.Top(TopUserAgents),
                TrustedProxy = _trustedProxies,
            });

    private sealed class Group
    {
        public long Count, Status401, Status403;
        public DateTimeOffset? FirstSeen, LastSeen;
        public readonly TopCounter Paths = new(TopPaths * 10);
        public readonly TopCounter UserAgents = new(TopUserAgents * 10);
    }
}

/// <summary>
/// The most frequent strings of a stream in bounded memory (Metwally et al.'s Space-Saving): at most
/// <c>capacity</c> are tracked, and a new one replaces the least counted. Exact while there are fewer distinct
/// strings than that; beyond, every string more frequent than 1/capacity of the stream is still kept.
/// Kept in two small arrays searched in order: the strings of a log scan are shared instances (see
/// <see cref="TextCache"/>), so a repeated one is found by reference, without reading a character.
/// </summary>
internal sealed class TopCounter(int capacity)
{
    private string[] _items = new string[Math.Min(capacity, 8)];
    private long[] _counts = new long[Math.Min(capacity, 8)];
    private int _used;

    public void Add(string item)
    {
        var found = IndexOf(item);
        if (found >= 0)
        {
            _counts[found]++;
            return;
        }
        if (_used < capacity)
        {
            if (_used == _items.Length)
            {
                Array.Resize(ref _items, Math.Min(capacity, 2 * _used));
                Array.Resize(ref _counts, _items.Length);
            }
            (_items[_used], _counts[_used]) = (item, 1);
            _used++;
            return;
        }
        var least = 0;
        for (var i = 1; i < _used; i++)
            least = _counts[i] < _counts[least] ? i : least;
        (_items[least], _counts[least]) = (item, _counts[least] + 1);
    }

    private int IndexOf(string item)
    {
        for (var i = 0; i < _used; i++)
        {
            if (ReferenceEquals(_items[i], item))
                return i;
        }
        // The same text in another instance: from another file, or decoded again after it left the cache.
        for (var i = 0; i < _used; i++)
        {
            if (string.Equals(_items[i], item, StringComparison.Ordinal))
                return i;
        }
        return -1;
    }

    public string[] Top(int count) =>
        Enumerable.Range(0, _used).OrderByDescending(i => _counts[i]).ThenBy(i => _items[i], StringComparer.Ordinal).Take(count)
            .Select(i => _items[i]).ToArray();
}
