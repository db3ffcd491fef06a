namespace Engine.Http;

/// <summary>
/// Header fields the engine recognises by bytes: the ones that decide framing, connection
/// management and routing, the hop-by-hop ones a proxy must strip (RFC 9110 §7.6.1), and the
/// most frequent end-to-end ones so the connection layer can skip a byte compare for them.
/// </summary>
internal enum KnownHeader : byte
{
    None = 0,
    Host,
    Connection,
    ContentLength,
    TransferEncoding,
    Te,
    Trailer,
    Upgrade,
    Expect,
    KeepAlive,
    ProxyConnection,
    ProxyAuthorization,
    Authorization,
    Via,
    Forwarded,
    XForwardedFor,
    UserAgent,
    Accept,
    AcceptEncoding,
    AcceptLanguage,
    ContentType,
    Cookie,
}
