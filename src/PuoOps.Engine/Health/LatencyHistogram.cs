using HdrHistogram;

namespace PuoOps.Engine.Health;

/// <summary>
/// Latencies recorded into an HdrHistogram (microseconds, three significant digits, from 1 µs to a day), safe to
/// record from many threads at once. Percentiles are read from it exactly as HdrHistogram reports them; min and max
/// are kept exactly. <see cref="Distribution"/> gives log-spaced buckets for drawing the shape of the latencies.
/// </summary>
public sealed class LatencyHistogram
{
    private const long HighestMicroseconds = 86_400L * 1_000_000;

    private readonly LongConcurrentHistogram _histogram = new(1, 1, HighestMicroseconds, 3);
    private long _min = long.MaxValue;
    private long _max;

    public long Count => _histogram.TotalCount;

    public TimeSpan Min => Count == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(Interlocked.Read(ref _min));

    public TimeSpan Max => TimeSpan.FromTicks(Interlocked.Read(ref _max));

    public TimeSpan Mean => Count == 0 ? TimeSpan.Zero : FromMicroseconds(_histogram.GetMean());

    public void Record(TimeSpan latency)
    {
        var ticks = Math.Max(0, latency.Ticks);
        _histogram.RecordValue(Math.Clamp(ticks / TimeSpan.TicksPerMicrosecond, 1, HighestMicroseconds));
        for (var seen = Interlocked.Read(ref _min); ticks < seen; seen = Interlocked.Read(ref _min))
            if (Interlocked.CompareExchange(ref _min, ticks, seen) == seen)
                break;
        for (var seen = Interlocked.Read(ref _max); ticks > seen; seen = Interlocked.Read(ref _max))
            if (Interlocked.CompareExchange(ref _max, ticks, seen) == seen)
                break;
    }

    /// <summary>The latency at <paramref name="percentile"/> (0 to 100, e.g. 99.9); zero when nothing was recorded.</summary>
    public TimeSpan Percentile(double percentile)
    {
        if (Count == 0)
            return TimeSpan.Zero;
        // A bucket's highest equivalent value can lie past the largest latency itself; never report more than was seen.
        var value = FromMicroseconds(_histogram.HighestEquivalentValue(_histogram.GetValueAtPercentile(percentile)));
        return value > Max ? Max : value < Min ? Min : value;
    }

    /// <summary>
    /// The recorded latencies in about <paramref name="buckets"/> log-spaced buckets from Min to Max, each with how many
    /// fell into it: the shape of the distribution (a stall shows as a second hump far to the right).
    /// </summary>
    public IReadOnlyList<LatencyBucket> Distribution(int buckets = 20)
    {
        if (Count == 0)
            return [];
        var low = Math.Max(1, Min.Ticks / TimeSpan.TicksPerMicrosecond);
        var high = Math.Max(low + 1, Max.Ticks / TimeSpan.TicksPerMicrosecond + 1);
        var factor = Math.Pow((double)high / low, 1.0 / Math.Max(1, buckets));
        var result = new List<LatencyBucket>();
        var from = (double)low;
        var counted = 0L;
        for (var i = 0; i < buckets; i++)
        {
            var to = i == buckets - 1 ? high : from * factor;
            var upTo = CountAtOrBelow((long)Math.Ceiling(to));
            result.Add(new LatencyBucket(FromMicroseconds(from), FromMicroseconds(to), upTo - counted));
            counted = upTo;
            from = to;
        }
        return result;
    }

    private long CountAtOrBelow(long microseconds)
    {
        long total = 0;
        foreach (var value in _histogram.RecordedValues())
        {
            // A recorded value stands for a small range; it counts as at or below when its range starts there.
            if (_histogram.LowestEquivalentValue(value.ValueIteratedTo) > microseconds)
                break;
            total = value.TotalCountToThisValue;
        }
        return total;
    }

    private static TimeSpan FromMicroseconds(double microseconds) => TimeSpan.FromTicks((long)(microseconds * TimeSpan.TicksPerMicrosecond));
}
