using System.Globalization;
using System.Text;

namespace LoadTests;

/// <summary>
/// The markdown of a peer run: one row per target with the medians of its repetitions and its
/// ratios to the engine's figure (target ÷ engine: above 1× a rate is higher than the engine's, a
/// CPU or memory cost is higher), then the engine's GC figures per scenario.
/// </summary>
internal static class PeerTable
{
    private const string Missing = "–";

    // (header, key, format) of the figure columns, then the figures that get a ratio column.
    private static readonly (string Header, string Key, string Format)[] Columns =
    [
        ("req/s", PeerKeys.Rps, "N0"),
        ("p50 ms", PeerKeys.P50Ms, "0.00"),
        ("p99 ms", PeerKeys.P99Ms, "0.00"),
        ("CPU µs/req", PeerKeys.CpuUsPerRequest, "0.0"),
        ("tunnels/s", PeerKeys.TunnelsPerSecond, "N0"),
        ("CPU µs/tunnel", PeerKeys.CpuUsPerTunnel, "0"),
        ("tunnel MB/s", PeerKeys.MegabytesPerSecond, "N0"),
        ("CPU s/GiB", PeerKeys.CpuSecondsPerGib, "0.00"),
        ("KiB/idle tunnel", PeerKeys.KibPerIdleTunnel, "0.0"),
        ("cold req/s", PeerKeys.ColdRps, "N0"),
        ("cold vs steady", PeerKeys.ColdRatio, "0.00×"),
        ("cold vs steady per CPU s", PeerKeys.ColdRatioPerCpu, "0.00×"),
        ("cold JIT % of CPU", PeerKeys.ColdJitShare, "0.0"),
    ];

    private static readonly (string Header, string Key)[] Ratios =
    [
        ("req/s vs engine", PeerKeys.Rps),
        ("CPU/req vs engine", PeerKeys.CpuUsPerRequest),
        ("tunnels/s vs engine", PeerKeys.TunnelsPerSecond),
        ("CPU/tunnel vs engine", PeerKeys.CpuUsPerTunnel),
        ("CPU/GiB vs engine", PeerKeys.CpuSecondsPerGib),
        ("KiB/tunnel vs engine", PeerKeys.KibPerIdleTunnel),
    ];

    private static readonly string[] ErrorKeys = [PeerKeys.GetErrors, PeerKeys.ConnectErrors, PeerKeys.TunnelErrors, PeerKeys.IdleFailed, PeerKeys.ColdErrors];

    public static string Render(PeerResults results, IEnumerable<string> targets)
    {
        var text = new StringBuilder();
        text.Append("| target | ").AppendJoin(" | ", Columns.Select(c => c.Header)).Append(" | errors | ")
            .AppendJoin(" | ", Ratios.Select(r => r.Header)).Append(" |\n");
        text.Append("| --- |").Append(string.Concat(Enumerable.Repeat(" ---: |", Columns.Length + 1 + Ratios.Length))).Append('\n');
        foreach (string target in targets)
        {
            text.Append("| ").Append(target).Append(" | ");
            text.AppendJoin(" | ", Columns.Select(c => Format(results.Median(target, c.Key), c.Format)));
            text.Append(" | ").Append(Format(results.Sum(target, ErrorKeys), "N0")).Append(" | ");
            text.AppendJoin(" | ", Ratios.Select(r => Ratio(results.Median(target, r.Key), results.Median(PeerTarget.Engine, r.Key))));
            text.Append(" |\n");
        }

        return text.ToString();
    }

    /// <summary>
    /// The engine's runtime during each scenario (from its /metrics): collections by generation,
    /// GC pause and bytes allocated per request, per tunnel, per MiB relayed.
    /// </summary>
    public static string RenderEngineGc(PeerResults results)
    {
        var text = new StringBuilder("| engine, per scenario | gc0 | gc1 | gc2 | GC pause ms | allocated |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
        foreach ((string scenario, string unit) in (ReadOnlySpan<(string, string)>)[("get", "B/req"), ("connect", "B/tunnel"), ("tunnel", "B/MiB")])
        {
            string E(string what, string format) => Format(results.Median(PeerTarget.Engine, PeerKeys.Gc(what, scenario)), format);
            double? alloc = results.Median(PeerTarget.Engine, PeerKeys.Gc("alloc", scenario));
            text.Append(CultureInfo.InvariantCulture,
                $"| {scenario} | {E("gc0", "N0")} | {E("gc1", "N0")} | {E("gc2", "N0")} | {E("pause_ms", "0.0")} | {(alloc is null ? Missing : Format(alloc, "N0") + " " + unit)} |\n");
        }

        return text.ToString();
    }

    internal static string Format(double? value, string format) =>
        value is double v ? v.ToString(format, CultureInfo.InvariantCulture) : Missing;

    internal static string Ratio(double? value, double? engine) =>
        value is double v && engine is double e && e > 0 ? (v / e).ToString("0.00", CultureInfo.InvariantCulture) + "×" : Missing;
}
