using System.Globalization;
using System.Net;

namespace LoadTests;

/// <summary>The options of <c>LoadTests peers</c> (<c>--name value</c> pairs, like every scenario's).</summary>
internal sealed class PeerOptions
{
    public const string Usage = """
        usage: LoadTests peers (or --peers) [options]
          Starts the origin and the installed peers with the peer scripts, and the engine as a child
          process, all pinned (proxies on CPU 1, origin and this load generator on CPU 0); warms the
          engine up; then for each repetition runs every scenario against every target in turn and
          prints one markdown table of medians with ratios against the engine (stdout; progress on stderr).
          --targets a,b,c     engine, haproxy-tcp, haproxy-http (or haproxy for both), squid, tinyproxy,
                              proxy-chain, trafficserver (default: all that are installed)
          --reps N            repetitions, the median is reported (3)
          --duration S        seconds of the get and connect scenarios per target and repetition (8)
          --connections N     concurrent connections of get and connect (64)
          --tunnels-held N    idle tunnels held for the RSS figure (2000)
          --hold S            seconds they are held before RSS is read again (3)
          --warmup S          keep-alive GETs against the engine before measuring: tiered JIT (20)
          --cold S            cold start: each repetition starts the engine and HAProxy (http mode) anew
                              and reports req/s in their first S seconds against the median of the
                              later half of their S-second windows through --warmup (6; 0 skips it)
          --start 0           use what already listens instead of starting the origin and peers
          --scripts DIR       the peer scripts (/work/shared/bench/peers)
          --engine PATH       Engine.dll (default: the build beside this LoadTests), or a published
                              Engine executable (dotnet publish Engine: Native AOT), run as it is
          --engine-port P     the engine's proxy listener (19100); its admin listener is P+90
          --access-log 0      run the engine without its access log (the peers log nothing either)
          --origin IP:PORT    the peers' origin nginx (127.0.0.1:18080: /small 13 bytes, /big 256 MiB)
          --pin 0             pin nothing (PIN=0 for the peer scripts too): every process may use both
                              cores (HAProxy then starts one thread per core, nbthread 2 on this box)
        """;

    public required IReadOnlyList<PeerTarget> Targets { get; init; }
    public int Reps { get; init; } = 3;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(8);
    public int Connections { get; init; } = 64;
    public int TunnelsHeld { get; init; } = 2000;
    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The cold-start window: the "first 6 s of a fresh process"; zero skips the cold start.</summary>
    public TimeSpan Cold { get; init; } = TimeSpan.FromSeconds(6);
    public bool Start { get; init; } = true;
    public string Scripts { get; init; } = "/work/shared/bench/peers";
    public string? Engine { get; init; }
    public int EnginePort { get; init; } = 19100;
    public bool AccessLog { get; init; } = true;
    public IPEndPoint Origin { get; init; } = new(IPAddress.Loopback, 18080);
    public bool Pin { get; init; } = true;

    /// <summary>The peers' origin serves /big as 256 MiB (start-peers.sh writes it).</summary>
    public const long BigBytes = 256L << 20;

    public static PeerOptions Parse(string[] args)
    {
        Dictionary<string, string> values = LoadOptions.Pairs(args);
        string? Get(string name) => values.TryGetValue(name, out string? v) ? v : null;
        int Int(string name, int fallback, int min) =>
            Get(name) is { } v ? Math.Max(min, int.Parse(v, CultureInfo.InvariantCulture)) : fallback;
        TimeSpan Seconds(string name, TimeSpan fallback) =>
            Get(name) is { } v ? TimeSpan.FromSeconds(double.Parse(v.TrimEnd('s'), CultureInfo.InvariantCulture)) : fallback;

        var d = new PeerOptions { Targets = [] };
        int enginePort = Int("engine-port", d.EnginePort, 1);
        return new PeerOptions
        {
            Targets = PeerTarget.Select(Get("targets"), enginePort),
            Reps = Int("reps", d.Reps, 1),
            Duration = Seconds("duration", d.Duration),
            Connections = Int("connections", d.Connections, 1),
            TunnelsHeld = Int("tunnels-held", d.TunnelsHeld, 1),
            Hold = Seconds("hold", d.Hold),
            Warmup = Seconds("warmup", d.Warmup),
            Cold = Seconds("cold", d.Cold),
            Start = Get("start") is not ("0" or "false"),
            Scripts = Get("scripts") ?? d.Scripts,
            Engine = Get("engine"),
            EnginePort = enginePort,
            AccessLog = Get("access-log") is not ("0" or "false"),
            Origin = Get("origin") is { } o ? IPEndPoint.Parse(o) : d.Origin,
            Pin = Get("pin") is not ("0" or "false"),
        };
    }

    /// <summary>An upper bound of the whole run: the engine child is started under timeout(1) with it, so it cannot outlive a killed runner for long.</summary>
    public TimeSpan Budget =>
        TimeSpan.FromMinutes(3) + Warmup + (Reps * Targets.Count * (2 * Duration + Hold + TimeSpan.FromSeconds(90))) + (Reps * 2 * ColdLifetime);

    /// <summary>The cold start's windows: the first, those covering --warmup, the last (the process's own steady rate).</summary>
    public int ColdWindows => Cold > TimeSpan.Zero ? 2 + (int)Math.Ceiling(Warmup / Cold) : 0;

    /// <summary>An upper bound of one fresh process's life (its timeout(1) limit).</summary>
    public TimeSpan ColdLifetime => (ColdWindows * (Cold + TimeSpan.FromSeconds(5))) + TimeSpan.FromSeconds(60);
}
