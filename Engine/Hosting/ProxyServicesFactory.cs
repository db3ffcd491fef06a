using System.Net;
using Engine.Auth;
using Engine.Connection;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Http;
using Engine.Limits;
using Engine.Rules;
using Engine.State;
using Engine.Targets;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Hosting;

/// <summary>Turns validated options into the immutable services the data path shares.</summary>
internal static class ProxyServicesFactory
{
    // The OS resolver gives no TTLs: 60 s for answers (a common resolver minimum-TTL setting),
    // 5 s for failures so a transient NXDOMAIN does not stick.
    private static readonly TimeSpan DnsPositiveTtl = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DnsNegativeTtl = TimeSpan.FromSeconds(5);

    public static ProxyServices Create(EngineOptions options, AccessLog? accessLog, IStateStore state, TimeProvider? time = null, EngineMetrics? metrics = null,
        Microsoft.Extensions.Logging.ILogger? log = null)
    {
        TimeProvider clock = time ?? TimeProvider.System;
        var overload = new OverloadMonitor(options.Limits.MaxPendingWork, options.Limits.MaxLoopLag, clock, loopLag: Engine.Transport.EpollLoop.SampleLag,
            currentLoopLag: Engine.Transport.EpollLoop.CurrentLag);
        return Build(options, accessLog, state, clock, new AuthFailureThrottle(options.Security.AuthFailuresPerMinute, clock),
            new DnsCache(DnsPositiveTtl, DnsNegativeTtl, time: time),
            new RequestLimiter(state, options.Credits.PoolBytes, clock),
            new CircuitBreakers(clock),
            overload,
            metrics ?? new EngineMetrics(() => state.IsDegraded, () => overload.Shed, loopLagSeconds: () => overload.LoopLag.TotalSeconds), log);
    }

    /// <summary>
    /// A reloaded configuration over the running engine's state: the state store, the limiter's
    /// in-flight counts, the circuit breakers, the overload monitor, the metrics and the DNS cache
    /// carry on; nodes whose exit did not change keep their health, bans and operator state; nodes
    /// gone from the file are marked removed in the old pool (what runs on them finishes).
    /// </summary>
    public static ProxyServices Reload(EngineOptions options, ProxyServices previous, bool keepRemoved = false)
    {
        previous.Limiter.CreditPoolBytes = options.Credits.PoolBytes;
        AuthFailureThrottle throttle = options.Security.AuthFailuresPerMinute == previous.AuthThrottle.FailuresPerMinute
            ? previous.AuthThrottle
            : new AuthFailureThrottle(options.Security.AuthFailuresPerMinute, previous.Time);
        ProxyServices next = Build(options, previous.AccessLog, previous.State, previous.Time, throttle, previous.Dns ?? new DnsCache(DnsPositiveTtl, DnsNegativeTtl),
            previous.Limiter, previous.Breakers, previous.Overload, previous.Metrics, previous.Log);
        next.Routing.Pool.CarryOver(previous.Routing.Pool, keepRemoved);
        return next;
    }

    private static ProxyServices Build(EngineOptions options, AccessLog? accessLog, IStateStore state, TimeProvider clock, AuthFailureThrottle throttle, DnsCache dns,
        RequestLimiter limiter, CircuitBreakers breakers, OverloadMonitor overload, EngineMetrics? metrics, Microsoft.Extensions.Logging.ILogger? log)
    {
        LimitsOptions limits = options.Limits;
        Dictionary<string, int> maxSessions = options.Packages.ToDictionary(p => p.Id, p => p.MaxSessions, StringComparer.Ordinal);
        state.Sessions.SetMaxSessions(id => maxSessions.TryGetValue(id, out int max) ? max : Sessions.MemorySessionStore.DefaultMaxSessions);
        var policy = new TargetPolicy(options.Security.AllowPrivateTargets, options.Security.AllowedConnectPorts, options.Security.BlockedDomains, options.Security.AllowedHttpPorts);
        TimeProvider? time = clock == TimeProvider.System ? null : clock;
        return new ProxyServices
        {
            Limits = new ConnectionLimits
            {
                RequestHeadTimeout = limits.RequestHeadTimeout,
                IdleTimeout = limits.IdleTimeout,
                ConnectTimeout = limits.ConnectTimeout,
                ResponseHeadTimeout = limits.ResponseHeadTimeout,
                MaxDrainBytes = limits.MaxDrainBytes,
                LingerTimeout = limits.LingerTimeout,
            },
            ParserLimits = ParserLimits(limits),
            Errors = new ErrorWriter(new ErrorWriterOptions { EngineName = options.Name, TypeBase = options.Errors.TypeBase, Realm = options.Errors.Realm }),
            EngineName = System.Text.Encoding.ASCII.GetBytes(options.Name),
            Packages = new PackageDirectory(options.Packages.Select(ToPackage)),
            Policy = policy,
            State = state,
            Limiter = limiter,
            Breakers = breakers,
            Overload = overload,
            Metrics = metrics,
            Dns = dns,
            AuthThrottle = throttle,
            Routing = CreateRouting(options, dns, policy, state.Sessions, clock),
            UpstreamPool = new UpstreamConnectionPool(time: time),
            AccessLog = accessLog,
            ExposeNode = options.Routing.ExposeNode,
            Time = clock,
            Log = log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance,
        };
    }

    /// <summary>The request parser's limits from <c>Engine:Limits</c>, checked by their own rule (as the error writer checks its options).</summary>
    private static HttpParserLimits ParserLimits(LimitsOptions limits)
    {
        HttpParserLimits parser = HttpParserLimits.Default with
        {
            MaxRequestLineBytes = limits.MaxRequestLineBytes,
            MaxRequestHeadBytes = limits.MaxRequestHeadBytes,
            MaxHeaderCount = limits.MaxHeaderCount,
        };
        IReadOnlyList<string> problems = parser.Validate();
        return problems.Count == 0 ? parser : throw new InvalidOperationException("Invalid request parser limits: " + string.Join("; ", problems));
    }

    public static NodeRouting CreateRouting(EngineOptions options, DnsCache dns, TargetPolicy policy, ISessionStore sessions, TimeProvider time)
    {
        RoutingOptions routing = options.Routing;
        var health = new NodeHealthPolicy(time, routing.FailuresToEject, routing.EjectBase, routing.EjectMax, routing.DomainBanFailures, routing.DomainBanTtl);
        var pool = new NodePool(options.Nodes, health);
        var connector = new NodeConnector(pool, dns, policy, options.Limits.ConnectTimeout);
        NodeProber? prober = routing.ProbeUrl is not null || pool.Nodes.Any(n => n.Type != NodeType.Direct)
            ? new NodeProber(pool, connector, routing.ProbeUrl, routing.ProbeInterval, time)
            : null;
        return new NodeRouting(pool, connector, sessions, routing.MaxAttempts, time, prober);
    }

    private static Package ToPackage(PackageOptions p) => new(
        p.Id,
        p.Key,
        p.Status,
        p.AllowedProtocols,
        p.IpAllowlist.ToArray(),
        p.IpAuth.ToArray(),
        p.DefaultRules,
        RulePolicy.Create(p.AllowedRules, p.AllowedNetworks),
        p.AllowedNetworks,
        new PackageLimits(p.RequestsPerSecond, p.MaxConcurrent, p.TrafficLimitBytes, p.CircuitBreaker, p.TrafficPeriod));

    /// <summary>Every configured listener as the server binds it; https listeners get their certificate source.</summary>
    public static IReadOnlyList<ListenerBinding> Listeners(EngineOptions options) =>
        options.Listeners.Select(l => l.Protocol switch
        {
            ListenerProtocol.Socks5 => new ListenerBinding(l.Endpoint, ClientProtocol.Socks5, ProxyProtocol: l.ProxyProtocol),
            ListenerProtocol.HttpAndSocks5 => new ListenerBinding(l.Endpoint, ClientProtocol.Auto, ProxyProtocol: l.ProxyProtocol),
            ListenerProtocol.Https => new ListenerBinding(l.Endpoint, ClientProtocol.Http, new Transport.TlsCertificateSource(l.Certificate!, l.CertificateKey, l.CertificatePassword), ProxyProtocol: l.ProxyProtocol),
            _ => new ListenerBinding(l.Endpoint, ClientProtocol.Http, ProxyProtocol: l.ProxyProtocol),
        }).ToArray();
}
