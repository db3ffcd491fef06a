using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Engine.Diagnostics;

/// <summary>
/// Listens to the engine's meter and writes what it heard in the Prometheus text exposition
/// format 0.0.4: counters as <c>_total</c>, histograms as cumulative <c>_bucket{le=…}</c> with
/// <c>_sum</c> and <c>_count</c>, everything else as gauges; dots in names become underscores.
/// Recording goes straight to the instrument's <see cref="MetricFamily"/> and allocates nothing
/// once a series exists; scraping (rare) does the sorting and formatting.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<MetricFamily, byte> _families = new();
    private readonly Lock _scrape = new();

    /// <summary>The runtime's built-in meter (.NET 9+): GC, JIT, thread pool and process instruments.</summary>
    public const string RuntimeMeterName = "System.Runtime";

    /// <summary>What the admin listener exports: every meter named <see cref="EngineMetrics.MeterName"/> and the runtime's.</summary>
    public static bool DefaultMeters(Meter meter) => meter.Name is EngineMetrics.MeterName or RuntimeMeterName;

    /// <param name="include">
    /// Which meters to export; by default <see cref="DefaultMeters"/>. Of the runtime's meter only
    /// the GC and process instruments are ever exported.
    /// </param>
    public PrometheusExporter(Func<Meter, bool>? include = null)
    {
        include ??= DefaultMeters;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (include(instrument.Meter) && IsExported(instrument))
            {
                var family = new MetricFamily(instrument);
                _families[family] = 0;
                listener.EnableMeasurementEvents(instrument, family);
            }
        };
        _listener.MeasurementsCompleted = (instrument, state) =>
        {
            if (state is MetricFamily family)
            {
                _families.TryRemove(family, out _);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((MetricFamily)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>
    /// Of the runtime's meter, the GC instruments (collections by generation, allocated bytes,
    /// pause time, heap sizes), the JIT's (methods compiled, IL compiled, time spent compiling: how
    /// much of a fresh process's CPU went to compiling while it served, docs/performance.md "Cold
    /// start") and the process's CPU time and working set: what a load test and an operator read
    /// next to the request rate. All are observable, so they cost nothing until a
    /// scrape asks. Left out: <c>dotnet.exceptions</c> (recorded on every throw, through this
    /// listener), levels the runtime publishes as counters (<c>dotnet.thread_pool.queue.length</c>),
    /// and gauges whose names end in <c>_count</c>, which Prometheus reserves for histograms
    /// (promtool rejects <c>dotnet_timer_count</c>).
    /// </summary>
    private static bool IsExported(Instrument instrument) =>
        instrument.Meter.Name != RuntimeMeterName
        || instrument.Name.StartsWith("dotnet.gc.", StringComparison.Ordinal)
        || instrument.Name.StartsWith("dotnet.jit.", StringComparison.Ordinal)
        || instrument.Name is "dotnet.process.cpu.time" or "dotnet.process.memory.working_set";

    /// <summary>
    /// Current values of every counter and gauge series by Prometheus name (histograms excluded),
    /// observable instruments asked first: what the status page's summary is made of.
    /// </summary>
    public Dictionary<string, List<(MetricTags Tags, double Value)>> Read()
    {
        lock (_scrape)
        {
            Observe();
            var values = new Dictionary<string, List<(MetricTags Tags, double Value)>>(StringComparer.Ordinal);
            foreach (MetricFamily family in _families.Keys.Where(f => f.Type != "histogram"))
            {
                if (!values.TryGetValue(family.Name, out List<(MetricTags Tags, double Value)>? list))
                {
                    values[family.Name] = list = [];
                }

                list.AddRange(family.Series.Select(s => (s.Tags, s.Value)));
            }

            return values;
        }
    }

    private void Observe()
    {
        foreach (MetricFamily family in _families.Keys)
        {
            family.ClearObserved();
        }

        _listener.RecordObservableInstruments();
    }

    /// <summary>Asks the observable instruments for their values and writes every family.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            Observe();
            var text = new StringBuilder(4096);
            // Two meters may carry the same instrument (a reload that built new metrics while the
            // old ones were still published): one family per name, series with equal tags merged.
            foreach (IGrouping<string, MetricFamily> group in _families.Keys.GroupBy(f => f.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                Write(text, group.Key, group.ToList());
            }

            return text.ToString();
        }
    }

    private static void Write(StringBuilder text, string name, List<MetricFamily> families)
    {
        MetricFamily first = families[0];
        List<MetricFamily> same = families.Where(f => f.Type == first.Type && f.Bounds.SequenceEqual(first.Bounds)).ToList();
        string? help = first.Instrument.Description;
        text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help ?? first.Instrument.Name)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(first.Type).Append('\n');

        var merged = new Dictionary<MetricTags, (double Value, long Count, double Sum, long[] Buckets)>();
        foreach (MetricFamily family in same)
        {
            foreach (MetricSeries series in family.Series)
            {
                merged.TryGetValue(series.Tags, out var sum);
                long[] buckets = sum.Buckets ?? new long[series.Buckets.Length];
                for (int i = 0; i < series.Buckets.Length; i++)
                {
                    buckets[i] += Volatile.Read(ref series.Buckets[i]);
                }

                merged[series.Tags] = (sum.Value + series.Value, sum.Count + series.Count, sum.Sum + series.Sum, buckets);
            }
        }

        foreach (KeyValuePair<MetricTags, (double Value, long Count, double Sum, long[] Buckets)> pair in merged.OrderBy(p => Labels(p.Key, null, null), StringComparer.Ordinal))
        {
            if (first.Type != "histogram")
            {
                text.Append(name).Append(Labels(pair.Key, null, null)).Append(' ').Append(Number(pair.Value.Value)).Append('\n');
                continue;
            }

            long cumulative = 0;
            for (int i = 0; i < first.Bounds.Length; i++)
            {
                cumulative += pair.Value.Buckets[i];
                text.Append(name).Append("_bucket").Append(Labels(pair.Key, "le", Number(first.Bounds[i]))).Append(' ').Append(cumulative).Append('\n');
            }

            // +Inf is the count itself: a record racing the scrape cannot make buckets exceed it.
            long count = Math.Max(pair.Value.Count, cumulative);
            text.Append(name).Append("_bucket").Append(Labels(pair.Key, "le", "+Inf")).Append(' ').Append(count).Append('\n');
            text.Append(name).Append("_sum").Append(Labels(pair.Key, null, null)).Append(' ').Append(Number(pair.Value.Sum)).Append('\n');
            text.Append(name).Append("_count").Append(Labels(pair.Key, null, null)).Append(' ').Append(count).Append('\n');
        }
    }

    private static string Labels(MetricTags tags, string? extraName, string? extraValue)
    {
        if (tags.Count == 0 && extraName is null)
        {
            return string.Empty;
        }

        var text = new StringBuilder("{");
        for (int i = 0; i < tags.Count; i++)
        {
            (string tagName, string value) = tags[i];
            if (i > 0)
            {
                text.Append(',');
            }

            text.Append(MetricFamily.Sanitize(tagName, allowColon: false)).Append("=\"").Append(EscapeLabel(value)).Append('"');
        }

        if (extraName is not null)
        {
            text.Append(tags.Count > 0 ? "," : string.Empty).Append(extraName).Append("=\"").Append(extraValue).Append('"');
        }

        return text.Append('}').ToString();
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    // Exposition format: label values escape \, " and newline; HELP escapes \ and newline.
    private static string EscapeLabel(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public void Dispose() => _listener.Dispose();
}
