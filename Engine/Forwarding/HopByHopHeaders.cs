namespace Engine.Forwarding;

/// <summary>
/// Which fields a forwarder drops (RFC 9110 §7.6.1). Works on bytes so the request side can use
/// it with whatever its own parser produced.
/// </summary>
/// <remarks>
/// Always hop-by-hop: Connection and every field it names, Proxy-Connection (RFC 9112 Appendix C.2.2),
/// Keep-Alive (RFC 2068 §19.7.1), TE (RFC 9110 §10.1.4), Trailer (RFC 2616 §13.5.1; RFC 9110 no longer
/// lists it, and dropping it is harmless because it only announces fields that the relayed trailer
/// section carries anyway), Proxy-Authorization and Proxy-Authenticate (RFC 9110 §11.7: they are
/// between the client and this proxy), and Upgrade unless the exchange is being upgraded
/// (RFC 9110 §7.8).
/// <para>
/// Never hop-by-hop: Transfer-Encoding and Content-Length. RFC 9110 §7.6.1 lists Transfer-Encoding
/// because a forwarder may decode; this engine relays a chunked body byte for byte (see
/// <see cref="ChunkedFramingScanner"/>), so the field still describes the bytes the next hop
/// receives and removing it would desynchronise the framing. For the same reason a Connection
/// option cannot remove them, nor Host: "Connection: content-length" is a known smuggling lever.
/// </para>
/// </remarks>
internal static class HopByHopHeaders
{
    /// <param name="name">The field name.</param>
    /// <param name="connectionTokens">The message's Connection options as one comma-separated list (join several Connection lines with commas), or empty.</param>
    /// <param name="upgrading">The exchange is a protocol upgrade that this proxy relays (Upgrade is then kept).</param>
    public static bool IsHopByHop(ReadOnlySpan<byte> name, ReadOnlySpan<byte> connectionTokens, bool upgrading = false)
    {
        ForwardingHeader known = ForwardingHeaders.Identify(name);
        bool listed = (known is ForwardingHeader.None or ForwardingHeader.ProxyStatus or ForwardingHeader.EngineErrorField) && !connectionTokens.IsEmpty && FieldSyntax.ListContainsToken(connectionTokens, name);
        return IsHopByHop(known, listed, upgrading);
    }

    public static bool IsHopByHop(ForwardingHeader known, bool listedInConnection, bool upgrading) => known switch
    {
        ForwardingHeader.Connection or ForwardingHeader.ProxyConnection or ForwardingHeader.KeepAlive or ForwardingHeader.TE
            or ForwardingHeader.Trailer or ForwardingHeader.ProxyAuthorization or ForwardingHeader.ProxyAuthenticate => true,
        ForwardingHeader.Upgrade => !upgrading,
        ForwardingHeader.ContentLength or ForwardingHeader.TransferEncoding or ForwardingHeader.Host => false,
        _ => listedInConnection,
    };
}
