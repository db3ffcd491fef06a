namespace Engine.Forwarding;

/// <summary>
/// The header fields whose meaning decides framing, connection reuse, hop-by-hop removal, or what a
/// forwarded response may not carry (the engine's own error fields) and must merge (Proxy-Status).
/// </summary>
internal enum ForwardingHeader : byte
{
    None,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    ProxyConnection,
    Upgrade,
    Trailer,
    TE,
    ProxyAuthenticate,
    ProxyAuthorization,
    Host,

    /// <summary>RFC 9209: the target's members are kept and this hop's appended as the last one.</summary>
    ProxyStatus,

    /// <summary>
    /// X-Proxy-Error, X-Proxy-Detail, X-Proxy-Correlation-Id: the engine's own error fields (spec/errors.md).
    /// Their presence tells a client "the proxy chain failed", so no forwarded response may carry them.
    /// </summary>
    EngineErrorField,
}
