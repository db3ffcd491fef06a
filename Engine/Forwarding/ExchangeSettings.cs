using Engine.Diagnostics;

namespace Engine.Forwarding;

/// <summary>The configuration an exchange runs under; one per configuration load, shared by every connection.</summary>
internal sealed class ExchangeSettings
{
    public required TimeSpan ResponseHeadTimeout { get; init; }

    /// <summary>Longest silence while a response body or an upgraded connection streams.</summary>
    public required TimeSpan IdleTimeout { get; init; }

    /// <summary><c>Engine:Name</c>: the pseudonym in Via and Proxy-Status.</summary>
    public required byte[] EngineName { get; init; }

    /// <summary><c>Engine:ExposeNode</c>: name the node in an X-Proxy-Node header.</summary>
    public required bool ExposeNode { get; init; }

    public required TimeProvider Time { get; init; }

    public EngineMetrics? Metrics { get; init; }
}
