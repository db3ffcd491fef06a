using Engine.Tests.Fixtures;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Engine.Admin;
using Engine.Diagnostics;
using Engine.Tests.Admin;
using Xunit.Abstractions;

namespace Engine.Tests.Diagnostics;

/// <summary>
/// The runtime's GC figures ("System.Runtime" meter) on <c>/metrics</c>: the exporter's default
/// selection, and a real scrape of an admin listener. The exporters here listen to the runtime's
/// meter and their own engine meter only: one listening to every "Engine" meter would also record
/// other tests' meters (and allocate their first series while an allocation test measures).
/// Serial: the runtime's counters are process-wide, so a parallel test's collections and
/// allocations would land in them too (one failure seen in a full run).
/// </summary>
[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public sealed class RuntimeMetricsTests(ITestOutputHelper output)
{
    // The runtime instruments the exporter keeps (PrometheusExporter.IsExported), by Prometheus name.
    private static readonly string[] RuntimeFamilies =
    [
        "dotnet_gc_collections_total",
        "dotnet_gc_heap_total_allocated_bytes_total",
        "dotnet_gc_last_collection_heap_fragmentation_size_bytes",
        "dotnet_gc_last_collection_heap_size_bytes",
        "dotnet_gc_last_collection_memory_committed_size_bytes",
        "dotnet_gc_pause_time_seconds_total",
        "dotnet_jit_compilation_time_seconds_total",
        "dotnet_jit_compiled_il_size_bytes_total",
        "dotnet_jit_compiled_methods_total",
        "dotnet_process_cpu_time_seconds_total",
        "dotnet_process_memory_working_set_bytes",
    ];

    private static string[] Families(string scrape) =>
        [.. scrape.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2])];

    private static double Value(string scrape, string series) =>
        double.Parse(scrape.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal))[(series.Length + 1)..], CultureInfo.InvariantCulture);

    private static bool IsRuntime(Meter meter) => meter.Name == PrometheusExporter.RuntimeMeterName;

    [Fact]
    public void DefaultMeters_AreTheEnginesAndTheRuntimes()
    {
        using var engine = new Meter(EngineMetrics.MeterName);
        using var runtime = new Meter(PrometheusExporter.RuntimeMeterName);
        using var other = new Meter("System.Net.Http");

        Assert.True(PrometheusExporter.DefaultMeters(engine));
        Assert.True(PrometheusExporter.DefaultMeters(runtime));
        Assert.False(PrometheusExporter.DefaultMeters(other));
    }

    [Fact]
    public void Scrape_RuntimeMeter_ExportsExactlyItsGcJitAndProcessFamilies()
    {
        using var exporter = new PrometheusExporter(IsRuntime);

        string text = exporter.Scrape();

        Assert.Equal(RuntimeFamilies, Families(text).Order(StringComparer.Ordinal));
        Assert.Contains("# TYPE dotnet_gc_collections_total counter", text.Split('\n'));
        Assert.Contains("# TYPE dotnet_gc_last_collection_heap_size_bytes gauge", text.Split('\n'));
        foreach (string generation in (string[])["gen0", "gen1", "gen2"])
        {
            Assert.Contains(text.Split('\n'), l => l.StartsWith($"dotnet_gc_collections_total{{gc_heap_generation=\"{generation}\"}} ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Scrape_AfterAllocatingAndCollecting_AllocatedBytesAndCollectionsGrow()
    {
        using var exporter = new PrometheusExporter(IsRuntime);
        string before = exporter.Scrape();

        byte[][] garbage = [.. Enumerable.Range(0, 64).Select(_ => new byte[64 * 1024])];
        GC.KeepAlive(garbage);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        string after = exporter.Scrape();

        const string Allocated = "dotnet_gc_heap_total_allocated_bytes_total";
        const string Gen2 = "dotnet_gc_collections_total{gc_heap_generation=\"gen2\"}";
        // The runtime reads GetTotalAllocatedBytes(precise: false): bytes still in threads'
        // allocation contexts (up to 8 KiB each) are not counted yet, so allow a little under.
        Assert.True(Value(after, Allocated) - Value(before, Allocated) >= 0.9 * 64 * 64 * 1024, $"allocated {Value(before, Allocated)} -> {Value(after, Allocated)}");
        Assert.True(Value(after, Gen2) > Value(before, Gen2), $"gen2 collections {Value(before, Gen2)} -> {Value(after, Gen2)}");
    }

    [Fact]
    public void Scrape_AfterCompilingAMethod_CompiledMethodsGrow()
    {
        using var exporter = new PrometheusExporter(IsRuntime);
        string before = exporter.Scrape();

        var method = new System.Reflection.Emit.DynamicMethod("CompiledForTheScrape", typeof(int), Type.EmptyTypes);
        System.Reflection.Emit.ILGenerator il = method.GetILGenerator();
        il.Emit(System.Reflection.Emit.OpCodes.Ldc_I4, 42);
        il.Emit(System.Reflection.Emit.OpCodes.Ret);
        Assert.Equal(42, method.CreateDelegate<Func<int>>()());
        string after = exporter.Scrape();

        const string Compiled = "dotnet_jit_compiled_methods_total";
        Assert.True(Value(after, Compiled) > Value(before, Compiled), $"compiled methods {Value(before, Compiled)} -> {Value(after, Compiled)}");
        Assert.True(Value(after, "dotnet_jit_compilation_time_seconds_total") > 0);
    }

    [SkippableFact]
    public async Task AdminMetrics_RuntimeMeter_CarriesGcFiguresAndPassesPromtool()
    {
        await using var harness = new AdminHarness();
        // Beside the harness's listener (which exports its own meter only): one that adds the runtime's.
        await using var admin = new AdminServer(() => harness.Proxy.Services, AdminHarness.Token,
            meters: m => ReferenceEquals(m, harness.Metrics.Meter) || IsRuntime(m));
        admin.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{admin.EndPoint.Port}/"), Timeout = TimeSpan.FromSeconds(15) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminHarness.Token);
        using (HttpClient proxy = harness.ProxyClient())
        using (HttpResponseMessage ok = await proxy.GetAsync(harness.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        string text = await client.GetStringAsync("metrics");

        string[] families = Families(text);
        Assert.All(RuntimeFamilies, f => Assert.Contains(f, families));
        Assert.Contains("engine_requests_total", families);
        Assert.True(Value(text, "dotnet_gc_heap_total_allocated_bytes_total") > 0);

        string? promtool = AdminMetricsTests.Which("promtool");
        Tools.RequireNot(promtool is null, "promtool not installed (apt-get install prometheus); the exposition is not checked");
        (int exitCode, string printed) = await Engine.Tests.Fixtures.Promtool.CheckMetricsAsync(promtool, text, output);
        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, printed.Trim());
    }
}
