namespace Engine.Hosting;

/// <summary><c>Engine.Routing</c>: node failover and health from live traffic. Every default says where it comes from.</summary>
internal sealed class RoutingOptions
{
    /// <summary>
    /// Nodes tried for one request without a session before NODE_UNAVAILABLE (failover is
    /// transparent only before any request byte went out). HAProxy's <c>retries</c> defaults to 3.
    /// </summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Consecutive node failures that take a node out. Envoy's outlier detection uses 5; exits fail faster, so 3.</summary>
    public int FailuresToEject { get; init; } = 3;

    /// <summary>First cool-down of an ejected node; doubles per ejection without a success. Envoy's base ejection time is 30 s.</summary>
    public TimeSpan EjectBase { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest cool-down. Envoy's max_ejection_time default is 300 s.</summary>
    public TimeSpan EjectMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Target-side failures of one node against one domain (within the TTL) that ban the pair.</summary>
    public int DomainBanFailures { get; init; } = 3;

    /// <summary>How long a (node, domain) ban lasts; also the window its failures are counted in.</summary>
    public TimeSpan DomainBanTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Active probe of ejected nodes: a tunnel through each to this URL's host and port every
    /// <see cref="ProbeInterval"/>. Null (default): http and socks5 nodes get a TCP connect to the node itself instead (no target, no exit bandwidth).
    /// </summary>
    public Uri? ProbeUrl { get; init; }

    /// <summary>How often ejected nodes are probed; Envoy's active health check interval examples use 5-30 s.</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>X-Proxy-Node</c> on the CONNECT 200 and forwarded responses, so a fleet can ban a bad exit (rules.md).</summary>
    public bool ExposeNode { get; init; } = true;
}
