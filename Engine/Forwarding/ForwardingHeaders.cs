using System.Text;

namespace Engine.Forwarding;

/// <summary>Recognises <see cref="ForwardingHeader"/> names by length first, then one case-insensitive compare.</summary>
internal static class ForwardingHeaders
{
    public static ForwardingHeader Identify(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 => Ascii.EqualsIgnoreCase(name, "te"u8) ? ForwardingHeader.TE : ForwardingHeader.None,
        4 => Ascii.EqualsIgnoreCase(name, "host"u8) ? ForwardingHeader.Host : ForwardingHeader.None,
        7 => Ascii.EqualsIgnoreCase(name, "upgrade"u8) ? ForwardingHeader.Upgrade
            : Ascii.EqualsIgnoreCase(name, "trailer"u8) ? ForwardingHeader.Trailer : ForwardingHeader.None,
        12 => Ascii.EqualsIgnoreCase(name, "proxy-status"u8) ? ForwardingHeader.ProxyStatus : ForwardingHeader.None,
        13 => Ascii.EqualsIgnoreCase(name, "x-proxy-error"u8) ? ForwardingHeader.EngineErrorField : ForwardingHeader.None,
        10 => Ascii.EqualsIgnoreCase(name, "connection"u8) ? ForwardingHeader.Connection
            : Ascii.EqualsIgnoreCase(name, "keep-alive"u8) ? ForwardingHeader.KeepAlive : ForwardingHeader.None,
        14 => Ascii.EqualsIgnoreCase(name, "content-length"u8) ? ForwardingHeader.ContentLength
            : Ascii.EqualsIgnoreCase(name, "x-proxy-detail"u8) ? ForwardingHeader.EngineErrorField : ForwardingHeader.None,
        16 => Ascii.EqualsIgnoreCase(name, "proxy-connection"u8) ? ForwardingHeader.ProxyConnection : ForwardingHeader.None,
        17 => Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8) ? ForwardingHeader.TransferEncoding : ForwardingHeader.None,
        18 => Ascii.EqualsIgnoreCase(name, "proxy-authenticate"u8) ? ForwardingHeader.ProxyAuthenticate : ForwardingHeader.None,
        19 => Ascii.EqualsIgnoreCase(name, "proxy-authorization"u8) ? ForwardingHeader.ProxyAuthorization : ForwardingHeader.None,
        22 => Ascii.EqualsIgnoreCase(name, "x-proxy-correlation-id"u8) ? ForwardingHeader.EngineErrorField : ForwardingHeader.None,
        _ => ForwardingHeader.None,
    };
}
