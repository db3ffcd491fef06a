namespace Engine.Forwarding;

/// <summary>The header fields whose meaning decides framing, connection reuse or hop-by-hop removal.</summary>
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
}
