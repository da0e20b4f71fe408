using System.Collections.Specialized;
using System.Globalization;
using System.Text;

namespace PuoOps.Engine.Health;

/// <summary>
/// Reads the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text into <see cref="Metric"/> series.
/// Written here because no served NuGet package parses the format (the Prometheus client libraries only write it).
/// The rules followed: a sample is <c>name{label="value",...} value [timestamp] [# exemplar]</c>; label values know
/// only the escapes <c>\\</c>, <c>\"</c> and <c>\n</c>; values may be NaN, +Inf and -Inf; a timestamp is integer
/// milliseconds (seconds in OpenMetrics, or when it has a fraction); HELP, TYPE and UNIT lines come before their
/// family's samples, once each; a family's lines are grouped; <c># EOF</c> ends an OpenMetrics page. Histograms
/// (_bucket, _count, _sum, _created) and summaries (quantiles, _count, _sum, _created) become one series per label
/// set. A line that breaks the rules is reported through <c>warn</c> with its number and skipped; the rest is read.
/// Series are yielded family by family as each ends, so a page is never held whole.
/// </summary>
public sealed class PrometheusParser
{
    private static readonly string[] KnownTypes = ["counter", "gauge", "histogram", "summary", "untyped", "unknown", "info", "stateset", "gaugehistogram"];
    private static readonly string[] Suffixes = ["_bucket", "_count", "_sum", "_created", "_total", "_gcount", "_gsum", "_info"];

    private readonly string _source;
    private readonly bool _openMetrics;
    private readonly Action<int, string> _warn;
    private readonly Dictionary<string, FamilyInfo> _families = new(StringComparer.Ordinal);
    private readonly List<Metric> _ready = [];
    private Family? _current;

    private PrometheusParser(string source, bool openMetrics, Action<int, string> warn)
    {
        _source = source;
        _openMetrics = openMetrics;
        _warn = warn;
    }

    /// <summary>
    /// The series of the page <paramref name="reader"/> reads. <paramref name="openMetrics"/> says the page is OpenMetrics
    /// (its integer timestamps are seconds); <paramref name="warn"/> gets each malformed line's number and what is wrong.
    /// </summary>
    public static IEnumerable<Metric> Parse(TextReader reader, string source, bool openMetrics, Action<int, string> warn)
    {
        var parser = new PrometheusParser(source, openMetrics, warn);
        var lineNumber = 0;
        var ended = false;
        while (reader.ReadLine() is { } read)
        {
            lineNumber++;
            var line = read.TrimStart(' ', '\t');
            if (line.Length == 0)
                continue;
            if (ended)
            {
                warn(lineNumber, "text after # EOF is ignored.");
                break;
            }
            try
            {
                if (line[0] == '#')
                    ended = parser.Comment(line, lineNumber);
                else
                    parser.Sample(line, lineNumber);
            }
            catch (MalformedLineException e)
            {
                warn(lineNumber, $"{e.Message} Line: {Shorten(line)}");
            }
            foreach (var metric in parser.TakeReady())
                yield return metric;
        }
        parser.Close();
        foreach (var metric in parser.TakeReady())
            yield return metric;
    }

    /// <summary>A sample value: a decimal number, NaN, +Inf or -Inf (also Inf and Infinity, any case), as Go's ParseFloat reads them.</summary>
    public static bool TryParseValue(string text, out double value)
    {
        switch (text.ToLowerInvariant())
        {
            case "nan":
                value = double.NaN;
                return true;
            case "+inf" or "inf" or "+infinity" or "infinity":
                value = double.PositiveInfinity;
                return true;
            case "-inf" or "-infinity":
                value = double.NegativeInfinity;
                return true;
        }
        return double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture, out value);
    }

    private IReadOnlyList<Metric> TakeReady()
    {
        if (_ready.Count == 0)
            return [];
        var ready = _ready.ToList();
        _ready.Clear();
        return ready;
    }

    // ---- comments: # HELP, # TYPE, # UNIT, # EOF; anything else is a comment ----

    /// <summary>Reads a comment line; true at # EOF.</summary>
    private bool Comment(string line, int lineNumber)
    {
        var cursor = new Cursor(line, 1);
        cursor.SkipBlanks();
        var keyword = cursor.Word();
        if (keyword == "EOF" && cursor.RestIsBlank())
        {
            Close();
            return true;
        }
        if (keyword is not ("HELP" or "TYPE" or "UNIT") || !cursor.SkipBlanks())
            return false;
        var name = cursor.Peek == '"' ? cursor.QuotedString() : cursor.MetricName()
            ?? throw new MalformedLineException($"# {keyword} needs a metric name.");
        if (!cursor.AtEnd && !cursor.IsBlank)
            throw new MalformedLineException($"'{name}{cursor.Peek}' has a character a metric name may not have.");
        string text;
        if (keyword == "HELP")
        {
            text = cursor.AtEnd ? "" : UnescapeHelp(cursor.Rest()[1..]);
        }
        else
        {
            cursor.SkipBlanks();
            text = cursor.Word();
            if (!cursor.RestIsBlank())
                throw new MalformedLineException($"# {keyword} {name} has more than one word after the name.");
        }
        Metadata(keyword, name, text, lineNumber);
        return false;
    }

    private void Metadata(string keyword, string name, string text, int lineNumber)
    {
        var info = _current?.Info.Name == name ? _current.Info : _families.GetValueOrDefault(name);
        if (info is { HasSamples: true })
            throw new MalformedLineException($"# {keyword} for {name} comes after its samples; it must come first.");
        switch (keyword)
        {
            case "TYPE" when info?.Type is not null:
                throw new MalformedLineException($"A second # TYPE line for {name}; the first one counts.");
            case "TYPE" when !KnownTypes.Contains(text):
                throw new MalformedLineException($"'{text}' is not a metric type ({string.Join(", ", KnownTypes)}).");
            case "HELP" when info?.Help is not null:
                throw new MalformedLineException($"A second # HELP line for {name}; the first one counts.");
            case "UNIT" when info?.Unit is not null:
                throw new MalformedLineException($"A second # UNIT line for {name}; the first one counts.");
        }
        if (info is null)
        {
            info = new FamilyInfo(name, lineNumber);
            _families[name] = info;
        }
        if (_current?.Info != info)
        {
            Close();
            _current = new Family(info);
        }
        switch (keyword)
        {
            case "TYPE": info.Type = text; break;
            case "HELP": info.Help = text; break;
            default: info.Unit = text; break;
        }
    }

    private static string UnescapeHelp(string text)
    {
        if (!text.Contains('\\'))
            return text;
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is '\\' or 'n' or '"')
                result.Append(text[++i] == 'n' ? '\n' : text[i]);
            else
                result.Append(text[i]); // HELP is prose: an unknown escape is kept as written
        }
        return result.ToString();
    }

    // ---- samples ----

    private void Sample(string line, int lineNumber)
    {
        var sample = ReadSample(line);
        var (info, suffix) = FamilyOf(sample.Name, lineNumber);
        if (_current?.Info != info)
        {
            if (info.HasSamples)
                _warn(lineNumber, $"samples of {info.Name} are not grouped together (they continue after other metrics); read anyway.");
            Close();
            _current = new Family(info);
        }
        _current.Add(sample, suffix, lineNumber);
        info.HasSamples = true;
    }

    /// <summary>The family a sample name belongs to, and its suffix (_bucket, _total, ... or "").</summary>
    private (FamilyInfo Info, string Suffix) FamilyOf(string name, int lineNumber)
    {
        if (_current is not null && _current.Info.SuffixOf(name) is { } own)
            return (_current.Info, own);
        if (_families.TryGetValue(name, out var exact) && exact.SuffixOf(name) is null)
            throw new MalformedLineException($"{name} is a {exact.Type}, which has no sample of that bare name (only {string.Join(", ", exact.AllowedSuffixes().Select(s => name + s))}).");
        foreach (var candidate in Candidates(name))
        {
            if (_families.TryGetValue(candidate, out var known) && known.SuffixOf(name) is { } suffix)
                return (known, suffix);
        }
        var untyped = new FamilyInfo(name, lineNumber);
        _families[name] = untyped;
        return (untyped, "");
    }

    private static IEnumerable<string> Candidates(string name)
    {
        yield return name;
        foreach (var suffix in Suffixes)
        {
            if (name.Length > suffix.Length && name.EndsWith(suffix, StringComparison.Ordinal))
            {
                var stem = name[..^suffix.Length];
                yield return stem;
                yield return stem + "_total"; // a counter typed under its _total name, whose _created sample drops it
            }
        }
    }

    private ParsedSample ReadSample(string line)
    {
        var cursor = new Cursor(line, 0);
        var name = cursor.MetricName();
        var labels = new OrderedDictionary(StringComparer.Ordinal);
        if (cursor.Peek == '{')
            name = ReadLabels(cursor, labels, name, allowName: true);
        else if (name is null)
            throw new MalformedLineException("A sample must start with a metric name.");
        else if (!cursor.AtEnd && !cursor.IsBlank)
            throw new MalformedLineException($"'{name}{cursor.Peek}' has a character a metric name may not have.");
        if (name is null)
            throw new MalformedLineException("The sample has no metric name.");
        cursor.SkipBlanks();
        var valueText = cursor.Token();
        if (valueText.Length == 0)
            throw new MalformedLineException($"{name} has no value.");
        if (!TryParseValue(valueText, out var value))
            throw new MalformedLineException($"The value '{valueText}' of {name} is not a number (NaN, +Inf and -Inf are allowed).");
        cursor.SkipBlanks();
        DateTimeOffset? timestamp = null;
        if (!cursor.AtEnd && cursor.Peek != '#')
        {
            timestamp = ReadTimestamp(cursor.Token(), _openMetrics);
            cursor.SkipBlanks();
        }
        MetricExemplar? exemplar = null;
        if (!cursor.AtEnd && cursor.Peek == '#')
        {
            cursor.Next();
            cursor.SkipBlanks();
            exemplar = ReadExemplar(cursor);
        }
        if (!cursor.AtEnd)
            throw new MalformedLineException($"Unexpected '{Shorten(cursor.Rest())}' after the value of {name}.");
        return new ParsedSample(name, labels, value, timestamp, exemplar);
    }

    /// <summary>Reads {name="value",...} into <paramref name="labels"/>; a quoted name first in the braces is the metric name (Prometheus 3).</summary>
    private static string? ReadLabels(Cursor cursor, OrderedDictionary labels, string? metricName, bool allowName)
    {
        cursor.Next(); // {
        while (true)
        {
            cursor.SkipBlanks();
            if (cursor.Peek == '}')
            {
                cursor.Next();
                return metricName;
            }
            string key;
            if (cursor.Peek == '"')
            {
                key = cursor.QuotedString();
                cursor.SkipBlanks();
                if (cursor.Peek != '=')
                {
                    if (!allowName || metricName is not null || labels.Count > 0)
                        throw new MalformedLineException($"\"{key}\" in the braces has no value; only a quoted metric name, first, may stand alone.");
                    metricName = key;
                    SkipSeparator(cursor);
                    continue;
                }
            }
            else
            {
                key = cursor.LabelName() ?? throw new MalformedLineException($"Expected a label name at column {cursor.Column}.");
                cursor.SkipBlanks();
            }
            if (cursor.Peek != '=')
                throw new MalformedLineException($"Label {key} has no '=' after it.");
            cursor.Next();
            cursor.SkipBlanks();
            if (cursor.Peek != '"')
                throw new MalformedLineException($"The value of label {key} must be in double quotes.");
            var value = cursor.QuotedString();
            if (labels.Contains(key))
                throw new MalformedLineException($"Label {key} appears twice.");
            labels.Add(key, value);
            SkipSeparator(cursor);
        }
    }

    private static void SkipSeparator(Cursor cursor)
    {
        cursor.SkipBlanks();
        if (cursor.Peek == ',')
            cursor.Next();
        else if (cursor.Peek != '}')
            throw new MalformedLineException(cursor.AtEnd ? "The label set is not closed with '}'." : $"Expected ',' or '}}' at column {cursor.Column}.");
    }

    private static MetricExemplar ReadExemplar(Cursor cursor)
    {
        if (cursor.Peek != '{')
            throw new MalformedLineException("An exemplar after '#' must start with its label set {...}.");
        var labels = new OrderedDictionary(StringComparer.Ordinal);
        ReadLabels(cursor, labels, null, allowName: false);
        cursor.SkipBlanks();
        var valueText = cursor.Token();
        if (!TryParseValue(valueText, out var value))
            throw new MalformedLineException($"The exemplar value '{valueText}' is not a number.");
        cursor.SkipBlanks();
        DateTimeOffset? timestamp = cursor.AtEnd ? null : ReadTimestamp(cursor.Token(), openMetrics: true);
        return new MetricExemplar(labels, value, timestamp);
    }

    private static DateTimeOffset ReadTimestamp(string text, bool openMetrics)
    {
        try
        {
            if (!openMetrics && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var milliseconds))
                return DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
            if (TryParseValue(text, out var seconds) && double.IsFinite(seconds))
                return DateTimeOffset.FromUnixTimeMilliseconds(checked((long)Math.Round(seconds * 1000)));
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
        }
        throw new MalformedLineException($"The timestamp '{text}' is not a time (integer milliseconds since 1970, or seconds in OpenMetrics).");
    }

    /// <summary>Ends the current family: its series become Metrics, with warnings for histograms that cannot be read.</summary>
    private void Close()
    {
        if (_current is null)
            return;
        foreach (var series in _current.Series)
        {
            if (_current.ToMetric(series, _source, _openMetrics, _warn) is { } metric)
                _ready.Add(metric);
        }
        _current = null;
    }

    internal static string Shorten(string text) => text.Length > 120 ? text[..117] + "..." : text;

    private sealed record ParsedSample(string Name, OrderedDictionary Labels, double Value, DateTimeOffset? Timestamp, MetricExemplar? Exemplar);

    /// <summary>What the page says about a family (HELP, TYPE, UNIT) and whether its samples have started.</summary>
    private sealed class FamilyInfo(string name, int firstLine)
    {
        public string Name { get; } = name;
        public int FirstLine { get; } = firstLine;
        public string? Type { get; set; }
        public string? Help { get; set; }
        public string? Unit { get; set; }
        public bool HasSamples { get; set; }

        public string[] AllowedSuffixes() => Type switch
        {
            "counter" => ["", "_total", "_created"],
            "histogram" => ["_bucket", "_count", "_sum", "_created"],
            "gaugehistogram" => ["_bucket", "_gcount", "_gsum"],
            "summary" => ["", "_count", "_sum", "_created"],
            "info" => ["_info", ""],
            _ => [""],
        };

        /// <summary>The suffix by which <paramref name="sample"/> belongs to this family; null when it does not.</summary>
        public string? SuffixOf(string sample)
        {
            if (!sample.StartsWith(Name, StringComparison.Ordinal))
                return Type == "counter" && Name.EndsWith("_total", StringComparison.Ordinal) && sample == Name[..^6] + "_created" ? "_created" : null;
            var rest = sample[Name.Length..];
            return AllowedSuffixes().Contains(rest) ? rest : null;
        }
    }

    /// <summary>The series of one family as its lines are read, keyed by their labels (le and quantile aside).</summary>
    private sealed class Family(FamilyInfo info)
    {
        private readonly Dictionary<string, Series> _byLabels = new(StringComparer.Ordinal);

        public FamilyInfo Info { get; } = info;
        public List<Series> Series { get; } = [];

        public void Add(ParsedSample sample, string suffix, int lineNumber)
        {
            var isHistogram = Info.Type is "histogram" or "gaugehistogram";
            var split = isHistogram && suffix == "_bucket" ? "le" : Info.Type == "summary" && suffix == "" ? "quantile" : null;
            string? splitValue = null;
            var bound = 0.0;
            if (split is not null)
            {
                splitValue = sample.Labels[split] as string
                    ?? throw new MalformedLineException($"{sample.Name} needs a {split} label.");
                bound = TryParseValue(splitValue, out var parsed) ? parsed
                    : throw new MalformedLineException($"{split}=\"{splitValue}\" is not a number.");
                sample.Labels.Remove(split);
            }
            var key = Key(sample.Labels);
            if (!_byLabels.TryGetValue(key, out var series))
            {
                series = new Series(sample.Labels, lineNumber);
                _byLabels[key] = series;
                Series.Add(series);
            }
            if (!series.Seen.Add(suffix + "\0" + splitValue))
                throw new MalformedLineException($"A second {sample.Name} sample with the same labels; the first one counts.");
            series.Timestamp ??= sample.Timestamp;
            switch (suffix)
            {
                case "_bucket":
                    series.Buckets.Add(new MetricBucket(bound, sample.Value, sample.Exemplar));
                    break;
                case "" when split == "quantile":
                    series.Quantiles.Add(new MetricQuantile(bound, sample.Value));
                    break;
                case "_count" or "_gcount":
                    series.Count = sample.Value;
                    break;
                case "_sum" or "_gsum":
                    series.Sum = sample.Value;
                    break;
                case "_created":
                    series.Created = DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(sample.Value * 1000));
                    break;
                default:
                    series.Value = sample.Value;
                    series.ValueName = sample.Name;
                    series.Exemplar = sample.Exemplar;
                    break;
            }
        }

        public Metric? ToMetric(Series series, string source, bool openMetrics, Action<int, string> warn)
        {
            var type = Info.Type ?? (openMetrics ? "unknown" : "untyped");
            var buckets = series.Buckets.OrderBy(b => b.UpperBound).ToList();
            var quantiles = series.Quantiles.OrderBy(q => q.Quantile).ToList();
            var described = Info.Name + Describe(series.Labels);
            double value;
            if (type is "histogram" or "gaugehistogram")
            {
                if (buckets.Count == 0 || !double.IsPositiveInfinity(buckets[^1].UpperBound))
                    warn(series.Line, $"the histogram {described} has no le=\"+Inf\" bucket, so its quantiles are unknown.");
                else if (buckets.Zip(buckets.Skip(1)).Any(pair => pair.Second.Count < pair.First.Count))
                    warn(series.Line, $"the bucket counts of {described} go down with a larger le; they should be cumulative.");
                series.Count ??= buckets.Count > 0 && double.IsPositiveInfinity(buckets[^1].UpperBound) ? buckets[^1].Count : null;
                value = series.Count ?? double.NaN;
            }
            else if (type == "summary" && series.ValueName is null)
            {
                value = series.Count ?? double.NaN;
            }
            else if (series.ValueName is null)
            {
                warn(series.Line, $"{described} has only a _created sample and no value; skipped.");
                return null;
            }
            else
            {
                value = series.Value!.Value;
            }
            return new Metric
            {
                Name = series.ValueName ?? Info.Name, Labels = series.Labels, Value = value, Type = type, Help = Info.Help, Unit = Info.Unit,
                Timestamp = series.Timestamp, Created = series.Created, Count = series.Count, Sum = series.Sum, Buckets = buckets,
                Quantiles = quantiles, Exemplar = series.Exemplar, Source = source, LineNumber = series.Line,
            };
        }

        private static string Key(OrderedDictionary labels) =>
            string.Join("\0", labels.Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}").Order(StringComparer.Ordinal));

        private static string Describe(OrderedDictionary labels) =>
            labels.Count == 0 ? "" : "{" + string.Join(",", labels.Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}=\"{e.Value}\"")) + "}";
    }

    private sealed class Series(OrderedDictionary labels, int line)
    {
        public OrderedDictionary Labels { get; } = labels;
        public int Line { get; } = line;
        public HashSet<string> Seen { get; } = new(StringComparer.Ordinal);
        public string? ValueName { get; set; }
        public double? Value { get; set; }
        public DateTimeOffset? Timestamp { get; set; }
        public DateTimeOffset? Created { get; set; }
        public double? Count { get; set; }
        public double? Sum { get; set; }
        public MetricExemplar? Exemplar { get; set; }
        public List<MetricBucket> Buckets { get; } = [];
        public List<MetricQuantile> Quantiles { get; } = [];
    }

    /// <summary>Reads one line token by token.</summary>
    private sealed class Cursor(string line, int position)
    {
        private int _position = position;

        public bool AtEnd => _position >= line.Length;
        public char Peek => AtEnd ? '\0' : line[_position];
        public bool IsBlank => Peek is ' ' or '\t';
        public int Column => _position + 1;

        public void Next() => _position++;

        /// <summary>Skips spaces and tabs; true when there were any.</summary>
        public bool SkipBlanks()
        {
            var start = _position;
            while (IsBlank)
                _position++;
            return _position > start;
        }

        public bool RestIsBlank() => string.IsNullOrWhiteSpace(line[Math.Min(_position, line.Length)..]);

        public string Rest() => line[Math.Min(_position, line.Length)..];

        /// <summary>Everything up to the next blank.</summary>
        public string Token()
        {
            var start = _position;
            while (!AtEnd && !IsBlank)
                _position++;
            return line[start.._position];
        }

        public string Word()
        {
            var start = _position;
            while (!AtEnd && char.IsAsciiLetterOrDigit(Peek))
                _position++;
            return line[start.._position];
        }

        /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]*, or null when none starts here.</summary>
        public string? MetricName() => Name(allowColon: true);

        /// <summary>[a-zA-Z_][a-zA-Z0-9_]*, or null.</summary>
        public string? LabelName() => Name(allowColon: false);

        private string? Name(bool allowColon)
        {
            var start = _position;
            while (!AtEnd && (char.IsAsciiLetter(Peek) || Peek == '_' || (allowColon && Peek == ':') || (_position > start && char.IsAsciiDigit(Peek))))
                _position++;
            return _position > start ? line[start.._position] : null;
        }

        /// <summary>A "..." string; the only escapes are \\, \" and \n.</summary>
        public string QuotedString()
        {
            Next(); // "
            var value = new StringBuilder();
            while (!AtEnd)
            {
                var c = line[_position++];
                if (c == '"')
                    return value.ToString();
                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }
                if (AtEnd)
                    break;
                var escaped = line[_position++];
                value.Append(escaped switch
                {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    _ => throw new MalformedLineException($"'\\{escaped}' at column {_position - 1} is not an escape the format has (only \\\\, \\\" and \\n)."),
                });
            }
            throw new MalformedLineException("A quoted string is not closed with '\"'.");
        }
    }

    private sealed class MalformedLineException(string message) : Exception(message);
}
