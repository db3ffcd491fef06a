namespace LoadTests;

/// <summary>The figures a peer run records per target and repetition (keys of <see cref="PeerResults"/>).</summary>
internal static class PeerKeys
{
    public const string Rps = "get.rps";
    public const string P50Ms = "get.p50_ms";
    public const string P99Ms = "get.p99_ms";
    public const string CpuUsPerRequest = "get.cpu_us";
    public const string GetErrors = "get.errors";
    public const string TunnelsPerSecond = "connect.rate";
    public const string CpuUsPerTunnel = "connect.cpu_us";
    public const string ConnectErrors = "connect.errors";
    public const string MegabytesPerSecond = "tunnel.mbps";
    public const string CpuSecondsPerGib = "tunnel.cpu_s_per_gib";
    public const string TunnelErrors = "tunnel.errors";
    public const string KibPerIdleTunnel = "idle.kib";
    public const string IdleFailed = "idle.failed";
    public const string ColdRps = "cold.rps";
    public const string ColdSteadyRps = "cold.steady_rps";
    public const string ColdRatio = "cold.ratio";
    public const string ColdRatioPerCpu = "cold.ratio_per_cpu";
    public const string ColdErrors = "cold.errors";
    public const string ColdJitShare = "cold.jit_share";

    /// <summary>The engine's runtime during a scenario: <c>gc0.get</c>, <c>alloc.tunnel</c>, ….</summary>
    public static string Gc(string what, string scenario) => what + "." + scenario;
}
