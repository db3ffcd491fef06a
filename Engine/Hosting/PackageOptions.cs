using System.Net;
using Engine.Auth;
using Engine.Limits;

namespace Engine.Hosting;

/// <summary><c>Engine.Packages[i]</c>: one customer's access.</summary>
internal sealed class PackageOptions
{
    public string Id { get; init; } = "";

    /// <summary>The proxy password. Never logged, never printed in a validation message.</summary>
    public string Key { get; init; } = "";

    public PackageStatus Status { get; init; } = PackageStatus.Active;

    public ProxyProtocols AllowedProtocols { get; init; } = ProxyProtocols.All;

    /// <summary>Node networks this package may use (<c>res</c>, <c>mob</c>, <c>dc</c>); null = all.</summary>
    public IReadOnlyList<string>? AllowedNetworks { get; init; }

    /// <summary>Rule names this package may use (rules.md); null = all.</summary>
    public IReadOnlyList<string>? AllowedRules { get; init; }

    /// <summary>null = unlimited.</summary>
    public int? RequestsPerSecond { get; init; }

    /// <summary>Concurrent requests and tunnels; null = unlimited.</summary>
    public int? MaxConcurrent { get; init; }

    /// <summary>
    /// Live sticky sessions this package may hold in this instance; past it the least recently used
    /// one is evicted (its next request starts fresh, as after its idle time).
    /// </summary>
    public int MaxSessions { get; init; } = Sessions.MemorySessionStore.DefaultMaxSessions;

    /// <summary>Bytes both ways; null = unlimited.</summary>
    public long? TrafficLimitBytes { get; init; }

    /// <summary><c>none</c> (a lifetime cap), <c>day</c> or <c>month</c> (UTC): when <see cref="TrafficLimitBytes"/> starts again.</summary>
    public Engine.Limits.TrafficPeriod TrafficPeriod { get; init; }

    public IReadOnlyList<IPNetwork> IpAllowlist { get; init; } = [];

    public IReadOnlyList<IPNetwork> IpAuth { get; init; } = [];

    /// <summary>Rules used when the username carries none (and for IP-auth requests).</summary>
    public string? DefaultRules { get; init; }

    /// <summary>Per target domain; null (the key absent) = off. Opt-in: a breaker refuses requests.</summary>
    public CircuitBreakerOptions? CircuitBreaker { get; init; }
}
