namespace Engine.Connection;

/// <summary>The deadlines a client connection runs under (config <c>Limits</c>).</summary>
internal sealed record ConnectionLimits
{
    /// <summary>One deadline for the whole request head, not reset per read (slowloris). Kestrel: 30 s; nginx client_header_timeout: 60 s; ours: 10 s per spec/config.md.</summary>
    public TimeSpan RequestHeadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Keep-alive wait between requests, and the idle limit of a tunnel (spec/config.md: 2 min; Kestrel KeepAliveTimeout 130 s).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Resolution plus TCP connect to the target or node (spec/config.md: 10 s).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>From the end of the forwarded request to the target's response head (spec/config.md: 30 s).</summary>
    public TimeSpan ResponseHeadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A refused request's unread body up to this size is skipped and the connection kept (<c>Limits:MaxDrainBytes</c>).</summary>
    public long MaxDrainBytes { get; init; } = 1024 * 1024;

    /// <summary>Otherwise: stop sending, discard what arrives for up to this long, then close (<c>Limits:LingerTimeout</c>, RFC 9112 §9.6).</summary>
    public TimeSpan LingerTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
