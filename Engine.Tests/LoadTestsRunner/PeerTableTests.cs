using LoadTests;

namespace Engine.Tests.LoadTestsRunner;

/// <summary>The markdown of <c>LoadTests peers</c>: medians, error sums, ratios against the engine.</summary>
public sealed class PeerTableTests
{
    private static PeerResults Results()
    {
        var results = new PeerResults();
        foreach (double rps in (double[])[40_000, 42_000, 41_000])
        {
            results.Add("engine", PeerKeys.Rps, rps);
        }

        results.Add("engine", PeerKeys.CpuUsPerRequest, 20);
        results.Add("engine", PeerKeys.KibPerIdleTunnel, 15);
        results.Add("squid", PeerKeys.Rps, 10_000);
        results.Add("squid", PeerKeys.Rps, 11_000);
        results.Add("squid", PeerKeys.CpuUsPerRequest, 80);
        results.Add("squid", PeerKeys.KibPerIdleTunnel, 68);
        results.Add("squid", PeerKeys.GetErrors, 2);
        results.Add("squid", PeerKeys.ConnectErrors, 3);
        results.Add("haproxy-http", PeerKeys.Rps, double.NaN);
        results.Add("engine", PeerKeys.ColdRps, 13_800);
        results.Add("engine", PeerKeys.ColdRatio, 0.565);
        results.Add("engine", PeerKeys.ColdRatioPerCpu, 0.42);
        results.Add("engine", PeerKeys.ColdErrors, 0);
        results.Add("engine", PeerKeys.ColdJitShare, 2.44);
        return results;
    }

    [Fact]
    public void Median_OddAndEvenCounts_MiddleOrMeanOfMiddleTwo()
    {
        PeerResults results = Results();

        Assert.Equal(41_000, results.Median("engine", PeerKeys.Rps));
        Assert.Equal(10_500, results.Median("squid", PeerKeys.Rps));
        Assert.Null(results.Median("haproxy-http", PeerKeys.Rps));   // NaN is not recorded
        Assert.Null(results.Median("squid", PeerKeys.TunnelsPerSecond));
    }

    [Fact]
    public void Render_Rows_HaveMediansErrorSumsAndRatiosAgainstTheEngine()
    {
        string[] lines = PeerTable.Render(Results(), ["engine", "squid", "haproxy-http"]).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(5, lines.Length);
        string[] header = Cells(lines[0]);
        string[] engine = Cells(lines[2]);
        string[] squid = Cells(lines[3]);
        string[] haproxy = Cells(lines[4]);
        Assert.Equal(header.Length, Cells(lines[1]).Length);
        Assert.All(lines.Skip(2), l => Assert.Equal(header.Length, Cells(l).Length));
        Assert.Equal("41,000", engine[Array.IndexOf(header, "req/s")]);
        Assert.Equal("1.00×", engine[Array.IndexOf(header, "req/s vs engine")]);
        Assert.Equal("10,500", squid[Array.IndexOf(header, "req/s")]);
        Assert.Equal("0.26×", squid[Array.IndexOf(header, "req/s vs engine")]);
        Assert.Equal("4.00×", squid[Array.IndexOf(header, "CPU/req vs engine")]);
        Assert.Equal("4.53×", squid[Array.IndexOf(header, "KiB/tunnel vs engine")]);
        Assert.Equal("5", squid[Array.IndexOf(header, "errors")]);
        Assert.Equal("–", squid[Array.IndexOf(header, "tunnels/s vs engine")]);
        Assert.Equal("–", haproxy[Array.IndexOf(header, "req/s")]);
        Assert.Equal("–", haproxy[Array.IndexOf(header, "errors")]);
        Assert.Equal("13,800", engine[Array.IndexOf(header, "cold req/s")]);
        Assert.Equal("0.57×", engine[Array.IndexOf(header, "cold vs steady")]);
        Assert.Equal("0.42×", engine[Array.IndexOf(header, "cold vs steady per CPU s")]);
        Assert.Equal("2.4", engine[Array.IndexOf(header, "cold JIT % of CPU")]);
        Assert.Equal("–", haproxy[Array.IndexOf(header, "cold JIT % of CPU")]);
        Assert.Equal("0", engine[Array.IndexOf(header, "errors")]);
        Assert.Equal("–", squid[Array.IndexOf(header, "cold vs steady")]);
    }

    [Fact]
    public void RenderEngineGc_PerScenario_AllocatedWithItsUnit()
    {
        var results = new PeerResults();
        results.Add("engine", PeerKeys.Gc("gc0", "get"), 12);
        results.Add("engine", PeerKeys.Gc("gc1", "get"), 1);
        results.Add("engine", PeerKeys.Gc("gc2", "get"), 0);
        results.Add("engine", PeerKeys.Gc("alloc", "get"), 312.4);
        results.Add("engine", PeerKeys.Gc("alloc", "tunnel"), 2_400);

        string[] lines = PeerTable.RenderEngineGc(results).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("| get | 12 | 1 | 0 | – | 312 B/req |", lines[2]);
        Assert.Equal("| connect | – | – | – | – | – |", lines[3]);
        Assert.Equal("| tunnel | – | – | – | – | 2,400 B/MiB |", lines[4]);
    }

    [Theory]
    [InlineData(0.5, 2.0, "0.25×")]
    [InlineData(3.0, 1.0, "3.00×")]
    [InlineData(1.0, 0.0, "–")]
    public void Ratio_TargetOverEngine(double value, double engine, string expected) =>
        Assert.Equal(expected, PeerTable.Ratio(value, engine));

    private static string[] Cells(string line) => [.. line.Trim('|', ' ').Split(" | ").Select(c => c.Trim())];
}
