using System.Diagnostics.Metrics;
using Engine.Diagnostics;

namespace Engine.Tests.Diagnostics;

public class MetricFamilyTests
{
    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    // The family remembers the two series it recorded last: tag sets interleaved in every order
    // (the same, the other, a third that pushes one out, one whose value is an equal string that is
    // not the same instance) must each land in their own series, never in the remembered one.
    [Fact]
    public void Record_InterleavedTagSets_EachCountsInItsOwnSeries()
    {
        using var meter = new Meter("test.family");
        Counter<long> counter = meter.CreateCounter<long>("engine.bytes");
        var family = new MetricFamily(counter);
        string outValue = new(['o', 'u', 't']);   // equal to "out", another instance
        (string Direction, string Package, long Value)[] records =
        [
            ("in", "a", 1), ("out", "a", 10), ("in", "a", 100), ("in", "b", 1_000), ("out", "a", 10_000),
            ("in", "a", 100_000), (outValue, "a", 1_000_000), ("in", "b", 10_000_000),
        ];

        foreach ((string direction, string package, long value) in records)
        {
            family.Record(value, [Tag("direction", direction), Tag("package", package)]);
        }

        Dictionary<string, double> totals = family.Series.ToDictionary(s => $"{s.Tags[0].Value}/{s.Tags[1].Value}", s => s.Value);
        Assert.Equal(3, totals.Count);
        Assert.Equal(100_101, totals["in/a"]);
        Assert.Equal(1_010_010, totals["out/a"]);
        Assert.Equal(10_001_000, totals["in/b"]);
    }

    // An observable's series are replaced at each collection: a series remembered from before the
    // clear must not take the next observation, or the export would lose it.
    [Fact]
    public void ClearObserved_ThenRecord_GoesToANewSeriesInTheFamily()
    {
        using var meter = new Meter("test.family.observed");
        ObservableGauge<long> gauge = meter.CreateObservableGauge("engine.nodes", () => 0L);
        var family = new MetricFamily(gauge);
        family.Record(5, [Tag("state", "available")]);
        family.ClearObserved();
        family.Record(7, [Tag("state", "available")]);

        MetricSeries series = Assert.Single(family.Series);
        Assert.Equal(7, series.Value);
    }
}
