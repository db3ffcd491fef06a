using System.Diagnostics.Metrics;
using Engine.Diagnostics;
using Engine.Errors;

namespace Engine.Tests.Diagnostics;

/// <summary>The exposition format of <see cref="PrometheusExporter"/> on a meter of the test's own.</summary>
public sealed class PrometheusExporterTests
{
    private static string[] Scrape(Action<Meter> record)
    {
        using var meter = new Meter("Test." + Guid.NewGuid().ToString("N"));
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        record(meter);
        return exporter.Scrape().Split('\n');
    }

    [Fact]
    public void Scrape_Counter_EndsInTotal_DotsBecomeUnderscores_UnitSuffixed()
    {
        string[] lines = Scrape(meter =>
        {
            Counter<long> counter = meter.CreateCounter<long>("my.thing.bytes", "By", "Bytes\\moved\nsomewhere");
            counter.Add(3, new KeyValuePair<string, object?>("dir", "in"));
            counter.Add(4, new KeyValuePair<string, object?>("dir", "in"));
            meter.CreateCounter<double>("my.wait", "s").Add(1.5);
        });

        Assert.Contains("# HELP my_thing_bytes_total Bytes\\\\moved\\nsomewhere", lines);
        Assert.Contains("# TYPE my_thing_bytes_total counter", lines);
        Assert.Contains("my_thing_bytes_total{dir=\"in\"} 7", lines);
        Assert.Contains("my_wait_seconds_total 1.5", lines);
    }

    [Fact]
    public void Scrape_LabelValues_AreEscaped_LabelNamesSanitized()
    {
        string[] lines = Scrape(meter => meter.CreateCounter<long>("c").Add(1, new KeyValuePair<string, object?>("odd.name", "a\"b\\c\nd")));

        Assert.Contains("c_total{odd_name=\"a\\\"b\\\\c\\nd\"} 1", lines);
    }

    [Fact]
    public void Scrape_Histogram_IsCumulativeWithSumCountAndInf()
    {
        string[] lines = Scrape(meter =>
        {
            Histogram<double> h = meter.CreateHistogram("h.duration", "s", null, null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
            h.Record(0.05);
            h.Record(0.5);
            h.Record(0.7);
            h.Record(5);
        });

        Assert.Contains("# TYPE h_duration_seconds histogram", lines);
        Assert.Contains("h_duration_seconds_bucket{le=\"0.1\"} 1", lines);
        Assert.Contains("h_duration_seconds_bucket{le=\"1\"} 3", lines);
        Assert.Contains("h_duration_seconds_bucket{le=\"+Inf\"} 4", lines);
        Assert.Contains("h_duration_seconds_sum 6.25", lines);
        Assert.Contains("h_duration_seconds_count 4", lines);
    }

    [Fact]
    public void Scrape_ObservableGaugeAndCounter_ReportTheirCurrentValue()
    {
        int level = 5;
        using var meter = new Meter("Test." + Guid.NewGuid().ToString("N"));
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, meter));
        meter.CreateObservableGauge("g", () => level);
        meter.CreateObservableCounter("oc", () => (long)level * 10);

        Assert.Contains("g 5", exporter.Scrape().Split('\n'));
        level = 7;
        string[] lines = exporter.Scrape().Split('\n');

        Assert.Contains("g 7", lines);
        Assert.Contains("# TYPE g gauge", lines);
        Assert.Contains("oc_total 70", lines);
    }

    [Fact]
    public void Scrape_DisposedMeter_ItsFamiliesDisappear()
    {
        using var exporter = new PrometheusExporter(m => m.Name == "Test.Disposed");
        var meter = new Meter("Test.Disposed");
        meter.CreateCounter<long>("gone").Add(1);
        Assert.Contains("gone_total 1", exporter.Scrape().Split('\n'));

        meter.Dispose();

        Assert.DoesNotContain("gone", exporter.Scrape(), StringComparison.Ordinal);
    }

    [Fact]
    public void RequestEnded_AfterWarmUp_AllocatesNothing()
    {
        using var metrics = new EngineMetrics(() => false, () => 0);
        using var exporter = new PrometheusExporter(m => ReferenceEquals(m, metrics.Meter));
        var duration = TimeSpan.FromMilliseconds(12);
        for (int i = 0; i < 1000; i++)
        {
            Record(metrics, duration);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            Record(metrics, duration);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains("engine_tunnels_total{status=\"502\",code=\"NODE_UNAVAILABLE\"} 11000", exporter.Scrape().Split('\n'));
    }

    private static void Record(EngineMetrics metrics, TimeSpan duration)
    {
        metrics.RequestEnded(tunnel: false, 200, ErrorCode.None, "demo", 120, 4096, duration);
        metrics.RequestEnded(tunnel: true, 502, ErrorCode.NodeUnavailable, "demo", 0, 310, duration);
        metrics.RequestEnded(tunnel: false, 407, ErrorCode.AuthFailed, null, 0, 250, duration);
    }
}
