using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Engine.Diagnostics;

/// <summary>
/// What <see cref="PrometheusExporter"/> keeps for one instrument: its Prometheus name and type
/// and its series by tag set. Passed to the MeterListener as the instrument's state, so recording
/// goes straight here without a lookup by instrument.
/// </summary>
internal sealed class MetricFamily
{
    // Prometheus's client defaults, for histograms that give no bucket advice.
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly ConcurrentDictionary<MetricTags, MetricSeries> _series = new();

    // The two series recorded last: a request records the same few tag sets over and over (status
    // 200 and code NONE; bytes in and out of one package), and these compare by reference where the
    // dictionary hashed every tag string first (~0.6 % of a keep-alive GET's CPU). Read and written
    // without a lock: a stale or lost entry only means a dictionary lookup.
    private MetricSeries? _recent;
    private MetricSeries? _older;

    public MetricFamily(Instrument instrument)
    {
        Instrument = instrument;
        Type = instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> => "counter",
            ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => "counter",
            Histogram<double> or Histogram<long> or Histogram<int> => "histogram",
            _ => "gauge",
        };

        // Observable instruments report their current value (a gauge's level, an observable
        // counter's running total) when asked: each observation replaces the last.
        Replaces = instrument.IsObservable;
        Bounds = Type != "histogram" ? [] : instrument switch
        {
            Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray() ?? DefaultBuckets,
            Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray() ?? DefaultBuckets,
            Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray() ?? DefaultBuckets,
            _ => DefaultBuckets,
        };
        Name = PrometheusName(instrument.Name, instrument.Unit, Type);
    }

    public Instrument Instrument { get; }

    /// <summary><c>engine.request.duration</c> in s → <c>engine_request_duration_seconds</c>; counters end in <c>_total</c>.</summary>
    public string Name { get; }

    /// <summary>counter, gauge or histogram (the TYPE line).</summary>
    public string Type { get; }

    public bool Replaces { get; }

    /// <summary>Histogram upper bounds, ascending; empty for other types.</summary>
    public double[] Bounds { get; }

    public ICollection<MetricSeries> Series => _series.Values;

    public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        MetricSeries series = Find(tags);
        if (Bounds.Length > 0)
        {
            series.Observe(value, Bounds);
        }
        else if (Replaces)
        {
            series.Set(value);
        }
        else
        {
            series.Add(value);
        }
    }

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        MetricSeries series = Find(tags);
        if (Bounds.Length > 0)
        {
            series.Observe(value, Bounds);
        }
        else if (Replaces)
        {
            series.Set(value);
        }
        else
        {
            series.Add(value);
        }
    }

    /// <summary>Before observable instruments are asked again: a tag set they no longer report disappears.</summary>
    public void ClearObserved()
    {
        if (Replaces)
        {
            _recent = _older = null;   // a series no longer in the dictionary must not be recorded into
            _series.Clear();
        }
    }

    private MetricSeries Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = new MetricTags(tags);
        MetricSeries? recent = _recent;
        if (recent is not null && recent.Tags.Equals(key))
        {
            return recent;
        }

        MetricSeries? older = _older;
        if (older is not null && older.Tags.Equals(key))
        {
            _older = recent;
            _recent = older;
            return older;
        }

        MetricSeries series = _series.TryGetValue(key, out MetricSeries? known) ? known : _series.GetOrAdd(key, static (k, bounds) => new MetricSeries(k, bounds), Bounds.Length);
        _older = recent;
        _recent = series;
        return series;
    }

    internal static string PrometheusName(string name, string? unit, string type)
    {
        string baseName = Sanitize(name, allowColon: true);
        string suffix = unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => string.Empty,
        };
        if (suffix.Length > 0 && !baseName.EndsWith(suffix, StringComparison.Ordinal))
        {
            baseName += suffix;
        }

        return type == "counter" && !baseName.EndsWith("_total", StringComparison.Ordinal) ? baseName + "_total" : baseName;
    }

    /// <summary>Metric and label names: <c>[a-zA-Z_:][a-zA-Z0-9_:]*</c> (colons for metric names only); anything else becomes '_'.</summary>
    internal static string Sanitize(string name, bool allowColon)
    {
        return string.Create(name.Length, (name, allowColon), static (span, state) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                char c = state.name[i];
                bool ok = char.IsAsciiLetter(c) || c == '_' || (state.allowColon && c == ':') || (i > 0 && char.IsAsciiDigit(c));
                span[i] = ok ? c : '_';
            }
        });
    }
}
