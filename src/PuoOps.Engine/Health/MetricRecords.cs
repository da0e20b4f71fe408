using System.Collections.Specialized;
using System.Globalization;

namespace PuoOps;

/// <summary>
/// Get-PuoMetric: one series of a Prometheus or OpenMetrics page. A counter, gauge or untyped sample is one
/// Metric with its Value; a histogram or summary series is one Metric carrying its Buckets or Quantiles, Count
/// and Sum (Value is then the Count), so percentiles can be read with <see cref="Quantile"/>.
/// </summary>
public sealed class Metric
{
    /// <summary>The sample name (http_requests_total); for a histogram or summary, the family name without _bucket/_count/_sum.</summary>
    public string Name { get; init; } = "";
    /// <summary>Label names and values in page order; le and quantile are not among them (they are in Buckets and Quantiles).</summary>
    public OrderedDictionary Labels { get; init; } = new();
    public double Value { get; init; }
    /// <summary>counter, gauge, histogram, summary, untyped; from OpenMetrics also unknown, info, stateset, gaugehistogram.</summary>
    public string Type { get; init; } = "untyped";
    public string? Help { get; init; }
    /// <summary>OpenMetrics # UNIT.</summary>
    public string? Unit { get; init; }
    /// <summary>The sample's own timestamp, when the page gives one.</summary>
    public DateTimeOffset? Timestamp { get; init; }
    /// <summary>When the counter, histogram or summary started counting (the _created sample).</summary>
    public DateTimeOffset? Created { get; init; }
    /// <summary>Observations of a histogram or summary (_count).</summary>
    public double? Count { get; init; }
    /// <summary>Sum of the observations of a histogram or summary (_sum).</summary>
    public double? Sum { get; init; }
    /// <summary>A histogram's cumulative buckets, by upper bound (the last is +Inf).</summary>
    public IReadOnlyList<MetricBucket> Buckets { get; init; } = [];
    /// <summary>A summary's precomputed quantiles.</summary>
    public IReadOnlyList<MetricQuantile> Quantiles { get; init; } = [];
    /// <summary>An OpenMetrics exemplar of a counter sample (buckets carry their own).</summary>
    public MetricExemplar? Exemplar { get; init; }
    /// <summary>The URL or file it was read from.</summary>
    public string Source { get; init; } = "";
    /// <summary>The line of the page its first sample is on.</summary>
    public int LineNumber { get; init; }

    /// <summary>
    /// The <paramref name="q"/>-quantile (0.99 for P99): for a histogram estimated from its buckets as PromQL's
    /// histogram_quantile does (linear within a bucket); for a summary the quantile it exposes (NaN when it exposes
    /// no such quantile); NaN for other types or without observations.
    /// </summary>
    public double Quantile(double q)
    {
        if (Quantiles.Count > 0)
            return Quantiles.FirstOrDefault(x => x.Quantile == q)?.Value ?? double.NaN;
        return Buckets.Count > 0 ? HistogramQuantile(q, Buckets) : double.NaN;
    }

    public override string ToString()
    {
        var labels = Labels.Count == 0 ? "" : "{" + string.Join(",", Labels.Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}=\"{e.Value}\"")) + "}";
        return $"{Name}{labels} {Value.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>PromQL's histogram_quantile over cumulative buckets sorted by upper bound, the last being +Inf.</summary>
    internal static double HistogramQuantile(double q, IReadOnlyList<MetricBucket> buckets)
    {
        if (double.IsNaN(q))
            return double.NaN;
        if (q < 0)
            return double.NegativeInfinity;
        if (q > 1)
            return double.PositiveInfinity;
        if (buckets.Count < 2 || !double.IsPositiveInfinity(buckets[^1].UpperBound))
            return double.NaN;
        // Counts that go down (a scrape racing an update) are raised to the largest so far, as Prometheus does.
        var counts = new double[buckets.Count];
        var max = 0.0;
        for (var i = 0; i < buckets.Count; i++)
            counts[i] = max = Math.Max(max, buckets[i].Count);
        var observations = counts[^1];
        if (observations == 0 || double.IsNaN(observations))
            return double.NaN;
        var rank = q * observations;
        var b = Array.FindIndex(counts, c => c >= rank);
        if (b == buckets.Count - 1)
            return buckets[^2].UpperBound;
        if (b == 0 && buckets[0].UpperBound <= 0)
            return buckets[0].UpperBound;
        var start = b == 0 ? 0 : buckets[b - 1].UpperBound;
        var before = b == 0 ? 0 : counts[b - 1];
        var inBucket = counts[b] - before;
        return start + (buckets[b].UpperBound - start) * ((rank - before) / inBucket);
    }
}

/// <summary>One cumulative histogram bucket: how many observations were at most <see cref="UpperBound"/> (the le label).</summary>
public sealed class MetricBucket(double upperBound, double count, MetricExemplar? exemplar = null)
{
    public double UpperBound { get; } = upperBound;
    public double Count { get; } = count;
    public MetricExemplar? Exemplar { get; } = exemplar;

    public override string ToString() => $"le={UpperBound.ToString(CultureInfo.InvariantCulture)}: {Count.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>One quantile of a summary (quantile label) and its value.</summary>
public sealed class MetricQuantile(double quantile, double value)
{
    public double Quantile { get; } = quantile;
    public double Value { get; } = value;

    public override string ToString() => $"{Quantile.ToString(CultureInfo.InvariantCulture)}: {Value.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>An OpenMetrics exemplar: labels (often a trace id), a value and an optional time.</summary>
public sealed class MetricExemplar(OrderedDictionary labels, double value, DateTimeOffset? timestamp)
{
    public OrderedDictionary Labels { get; } = labels;
    public double Value { get; } = value;
    public DateTimeOffset? Timestamp { get; } = timestamp;
}
