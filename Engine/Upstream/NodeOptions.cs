using System.Net;

namespace Engine.Upstream;

/// <summary><c>Engine.Nodes[i]</c>: one way out, with the tags that targeting rules filter on.</summary>
internal sealed class NodeOptions
{
    public string Id { get; init; } = "";

    public NodeType Type { get; init; } = NodeType.Direct;

    /// <summary><c>host:port</c> of the upstream proxy; required for http and socks5 nodes.</summary>
    public string? Address { get; init; }

    public string? Username { get; init; }

    /// <summary>Never logged.</summary>
    public string? Password { get; init; }

    /// <summary>Source address for outgoing connections.</summary>
    public IPAddress? LocalAddress { get; init; }

    /// <summary>ISO 3166-1 alpha-2, lowercase.</summary>
    public string? Country { get; init; }

    public string? Region { get; init; }

    public string? City { get; init; }

    public string? Isp { get; init; }

    public long? Asn { get; init; }

    /// <summary><c>res</c>, <c>mob</c> or <c>dc</c>.</summary>
    public string? Network { get; init; }

    /// <summary>Relative share of selections; 0 keeps the node configured but unused.</summary>
    public int Weight { get; init; } = 1;

    /// <summary>Set for a provider gateway: credentials rendered per request (docs/providers.md).</summary>
    public GatewayOptions? Gateway { get; init; }

    /// <summary>Where the node came from, as <c>GET /nodes</c> shows it: <c>config</c>, <c>source:PATH</c> or <c>admin</c>.</summary>
    public string Origin { get; init; } = "config";
}
