using LoadTests;

namespace Engine.Tests.LoadTestsRunner;

/// <summary>LoadTests' reading of the engine's /metrics for its GC figures.</summary>
public sealed class RuntimeCountersTests
{
    private const string Scrape = """
        # HELP dotnet_gc_collections_total The number of garbage collections that have occurred since the process has started.
        # TYPE dotnet_gc_collections_total counter
        dotnet_gc_collections_total{gc_heap_generation="gen0"} 120
        dotnet_gc_collections_total{gc_heap_generation="gen1"} 7
        dotnet_gc_collections_total{gc_heap_generation="gen2"} 2
        # TYPE dotnet_gc_heap_total_allocated_bytes_total counter
        dotnet_gc_heap_total_allocated_bytes_total 1.23456789E+09
        # TYPE dotnet_gc_pause_time_seconds_total counter
        dotnet_gc_pause_time_seconds_total 0.25
        # TYPE dotnet_jit_compilation_time_seconds_total counter
        dotnet_jit_compilation_time_seconds_total 1.5
        dotnet_jit_compiled_methods_total 4200
        dotnet_gc_last_collection_heap_size_bytes{gc_heap_generation="gen0"} 999
        engine_requests_total{status="200",code="none"} 5
        engine_bytes_total{direction="in",package="a b} c"} 17
        """;

    [Fact]
    public void TryParse_EngineScrape_ReadsCollectionsAllocatedPauseAndJitTime()
    {
        Assert.True(RuntimeCounters.TryParse(Scrape, out RuntimeCounters counters));

        Assert.Equal(new RuntimeCounters(120, 7, 2, 1_234_567_890, 0.25, 1.5), counters);
    }

    [Fact]
    public void TryParse_NoRuntimeSeries_ReturnsFalse()
    {
        Assert.False(RuntimeCounters.TryParse("# TYPE engine_requests_total counter\nengine_requests_total 3\n", out _));
        Assert.False(RuntimeCounters.TryParse(string.Empty, out _));
    }

    [Fact]
    public void TryParse_MalformedLines_AreSkipped()
    {
        const string Text = "dotnet_gc_heap_total_allocated_bytes_total\n{broken 3\ndotnet_gc_collections_total{gc_heap_generation=\"gen0\"} x\ndotnet_gc_heap_total_allocated_bytes_total 42 1700000000000\n";

        Assert.True(RuntimeCounters.TryParse(Text, out RuntimeCounters counters));

        Assert.Equal(new RuntimeCounters(0, 0, 0, 42, 0), counters);
    }

    [Fact]
    public void Subtract_TwoScrapes_GivesTheRunsShare()
    {
        var before = new RuntimeCounters(100, 5, 1, 1_000, 0.5, 2.0);
        var after = new RuntimeCounters(130, 6, 1, 41_000, 0.75, 2.25);

        Assert.Equal(new RuntimeCounters(30, 1, 0, 40_000, 0.25, 0.25), after - before);
    }
}
