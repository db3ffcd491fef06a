using Engine.Auth;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Targets;
using Engine.Upstream;

namespace Engine.Connection;

/// <summary>
/// What every client connection shares: built once per configuration load and swapped as a
/// whole on reload, so a connection sees one consistent configuration from start to end.
/// </summary>
internal sealed class ProxyServices
{
    public required ConnectionLimits Limits { get; init; }

    public required HttpParserLimits ParserLimits { get; init; }

    public required ErrorWriter Errors { get; init; }

    public required PackageDirectory Packages { get; init; }

    public required TargetPolicy Policy { get; init; }

    /// <summary>Shared counters (rate, traffic, credits) and sessions: this process, or Redis across instances.</summary>
    public required State.IStateStore State { get; init; }

    /// <summary>Per-package rate, concurrency, traffic cap and the credit pool.</summary>
    public required Engine.Limits.RequestLimiter Limiter { get; init; }

    /// <summary>Per-package, per-domain circuit breakers (opt-in per package).</summary>
    public required Engine.Limits.CircuitBreakers Breakers { get; init; }

    /// <summary>Load shedding on a growing thread-pool queue; off unless <c>Limits:MaxPendingWork</c> is set.</summary>
    public Engine.Limits.OverloadMonitor Overload { get; init; } = Engine.Limits.OverloadMonitor.Off;

    /// <summary>Resolver cache shared by the connectors; kept across reloads.</summary>
    public Targets.DnsCache? Dns { get; init; }

    /// <summary>Slows repeated credential failures from one address (<c>Security:AuthFailuresPerMinute</c>); kept across reloads.</summary>
    public Auth.AuthFailureThrottle AuthThrottle { get; init; } = Auth.AuthFailureThrottle.Off;

    /// <summary>The engine's meter; null in tests that do not look at metrics.</summary>
    public Diagnostics.EngineMetrics? Metrics { get; init; }

    /// <summary>Node pool, connectors and sessions: where rules become a path to the target.</summary>
    public required NodeRouting Routing { get; init; }

    /// <summary>Idle keep-alive connections to targets of absolute-URI requests; null: one connection per request.</summary>
    public Upstream.UpstreamConnectionPool? UpstreamPool { get; init; }

    public AccessLog? AccessLog { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Where an unexpected fault on the data path is logged with its exception (INTERNAL_ERROR).</summary>
    public Microsoft.Extensions.Logging.ILogger Log { get; init; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary><c>Engine:Name</c> as bytes: the pseudonym in Via and Proxy-Status of forwarded responses.</summary>
    public byte[] EngineName { get; init; } = "engine"u8.ToArray();

    /// <summary><c>Engine:ExposeNode</c>: name the node in an X-Proxy-Node header (default on).</summary>
    public bool ExposeNode { get; init; } = true;

    private Forwarding.ExchangeSettings? _exchange;

    /// <summary>
    /// Stops what these services run for themselves when the engine (or the start-up warm-up's
    /// copy) is done with them: the upstream pool's idle sockets and sweep, the routing's sweeps and
    /// probes, the breakers' sweep, the overload sampler, the meter. The state store and the access
    /// log belong to whoever made them (a reload hands both on).
    /// </summary>
    public void Stop()
    {
        UpstreamPool?.Dispose();
        Routing.Dispose();
        Breakers.Dispose();
        Overload.Dispose();
        Metrics?.Dispose();
    }

    /// <summary>What every absolute-URI exchange runs under, from the values above.</summary>
    public Forwarding.ExchangeSettings Exchange => _exchange ??= new Forwarding.ExchangeSettings
    {
        ResponseHeadTimeout = Limits.ResponseHeadTimeout,
        IdleTimeout = Limits.IdleTimeout,
        EngineName = EngineName,
        ExposeNode = ExposeNode,
        Time = Time,
        Metrics = Metrics,
    };
}
