namespace Engine.Http;

/// <summary>Recognises field names by length, then a case-insensitive word compare (RFC 9110 §5.1).</summary>
internal static class KnownHeaders
{
    /// <summary>Number of <see cref="KnownHeader"/> members, for per-head lookup tables.</summary>
    public const int Count = (int)KnownHeader.Cookie + 1;

    public static KnownHeader Lookup(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when AsciiBytes.EqualsLower(name, "te"u8) => KnownHeader.Te,
        3 when AsciiBytes.EqualsLower(name, "via"u8) => KnownHeader.Via,
        4 when AsciiBytes.EqualsLower(name, "host"u8) => KnownHeader.Host,
        6 => Length6(name),
        7 => Length7(name),
        9 when AsciiBytes.EqualsLower(name, "forwarded"u8) => KnownHeader.Forwarded,
        10 => Length10(name),
        12 when AsciiBytes.EqualsLower(name, "content-type"u8) => KnownHeader.ContentType,
        13 when AsciiBytes.EqualsLower(name, "authorization"u8) => KnownHeader.Authorization,
        14 when AsciiBytes.EqualsLower(name, "content-length"u8) => KnownHeader.ContentLength,
        15 => Length15(name),
        16 when AsciiBytes.EqualsLower(name, "proxy-connection"u8) => KnownHeader.ProxyConnection,
        17 when AsciiBytes.EqualsLower(name, "transfer-encoding"u8) => KnownHeader.TransferEncoding,
        19 when AsciiBytes.EqualsLower(name, "proxy-authorization"u8) => KnownHeader.ProxyAuthorization,
        _ => KnownHeader.None,
    };

    /// <summary>
    /// A name with <c>_</c> that, with <c>_</c> read as <c>-</c>, is a framing or hop-by-hop field
    /// (<c>Transfer_Encoding</c>, <c>content_length</c>, <c>Proxy_Connection</c>…). CGI, WSGI and
    /// PHP-FPM map both <c>-</c> and <c>_</c> to one <c>HTTP_*</c> variable (RFC 3875 §4.1.18), so an
    /// origin behind such a gateway would see a second framing field the proxy never judged: a
    /// known smuggling path (nginx ignores underscore names by default for this reason). Names
    /// without <c>_</c> cost one vectorised scan.
    /// </summary>
    public static bool FoldsToFramingOrHopByHop(ReadOnlySpan<byte> name)
    {
        if (name.Length > 19 || !name.Contains((byte)'_'))
        {
            return false;
        }

        Span<byte> folded = stackalloc byte[19];
        name.CopyTo(folded);
        folded = folded[..name.Length];
        folded.Replace((byte)'_', (byte)'-');
        return Lookup(folded) switch
        {
            KnownHeader.ContentLength or KnownHeader.TransferEncoding or KnownHeader.Connection or KnownHeader.ProxyConnection
                or KnownHeader.KeepAlive or KnownHeader.Te or KnownHeader.Trailer or KnownHeader.Upgrade or KnownHeader.ProxyAuthorization => true,
            _ => name.Length == 18 && AsciiBytes.EqualsLower(folded, "proxy-authenticate"u8),
        };
    }

    private static KnownHeader Length6(ReadOnlySpan<byte> name) =>
        AsciiBytes.EqualsLower(name, "accept"u8) ? KnownHeader.Accept
        : AsciiBytes.EqualsLower(name, "cookie"u8) ? KnownHeader.Cookie
        : AsciiBytes.EqualsLower(name, "expect"u8) ? KnownHeader.Expect
        : KnownHeader.None;

    private static KnownHeader Length7(ReadOnlySpan<byte> name) =>
        AsciiBytes.EqualsLower(name, "upgrade"u8) ? KnownHeader.Upgrade
        : AsciiBytes.EqualsLower(name, "trailer"u8) ? KnownHeader.Trailer
        : KnownHeader.None;

    private static KnownHeader Length10(ReadOnlySpan<byte> name) =>
        AsciiBytes.EqualsLower(name, "connection"u8) ? KnownHeader.Connection
        : AsciiBytes.EqualsLower(name, "user-agent"u8) ? KnownHeader.UserAgent
        : AsciiBytes.EqualsLower(name, "keep-alive"u8) ? KnownHeader.KeepAlive
        : KnownHeader.None;

    private static KnownHeader Length15(ReadOnlySpan<byte> name) =>
        AsciiBytes.EqualsLower(name, "accept-encoding"u8) ? KnownHeader.AcceptEncoding
        : AsciiBytes.EqualsLower(name, "accept-language"u8) ? KnownHeader.AcceptLanguage
        : AsciiBytes.EqualsLower(name, "x-forwarded-for"u8) ? KnownHeader.XForwardedFor
        : KnownHeader.None;
}
