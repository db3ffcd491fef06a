namespace Engine.Http;

/// <summary>
/// Classifies a request-target into the forms of RFC 9112 §3.2 and checks that the form fits the
/// method. The target's bytes are already known to be visible ASCII (see <see cref="HttpCharacters.Target"/>).
/// </summary>
internal static class TargetParser
{
    private const int HttpPort = 80;
    private const int HttpsPort = 443;

    public static RejectReason Parse(ReadOnlySpan<byte> target, KnownMethod method, out TargetParts parts)
    {
        parts = default;
        if (target.IsEmpty)
        {
            return RejectReason.InvalidTarget;
        }

        // RFC 9110 §9.3.6 and RFC 9112 §3.2.3: CONNECT takes authority-form and nothing else.
        if (method == KnownMethod.Connect)
        {
            return ParseConnect(target, ref parts);
        }

        byte first = target[0];
        if (first == (byte)'/')
        {
            parts.Form = TargetForm.Origin;
            parts.PathOffset = 0;
            parts.PathLength = target.Length;
            return RejectReason.None;
        }

        if (first == (byte)'*')
        {
            if (target.Length != 1)
            {
                return RejectReason.InvalidTarget;
            }

            // RFC 9112 §3.2.4: asterisk-form is only for a server-wide OPTIONS.
            if (method != KnownMethod.Options)
            {
                return RejectReason.AsteriskNotOptions;
            }

            parts.Form = TargetForm.Asterisk;
            return RejectReason.None;
        }

        return ParseAbsolute(target, ref parts);
    }

    private static RejectReason ParseConnect(ReadOnlySpan<byte> target, ref TargetParts parts)
    {
        if (target[0] is (byte)'/' or (byte)'*' || SchemeLength(target) > 0 || target.IndexOfAny("/?#"u8) >= 0)
        {
            return RejectReason.ConnectNotAuthorityForm;
        }

        // RFC 9112 §3.2.3: authority-form is uri-host ":" port, without userinfo.
        if (target.Contains((byte)'@'))
        {
            return RejectReason.TargetUserinfo;
        }

        RejectReason reason = AuthorityParser.Parse(target, allowEmptyHost: false, out int hostOffset, out int hostLength, out HostKind kind, out int port);
        if (reason != RejectReason.None)
        {
            return reason;
        }

        if (port == AuthorityParser.NoPort)
        {
            return target[^1] == HttpCharacters.Colon ? RejectReason.InvalidPort : RejectReason.ConnectWithoutPort;
        }

        parts.Form = TargetForm.Authority;
        parts.HostOffset = hostOffset;
        parts.HostLength = hostLength;
        parts.HostKind = kind;
        parts.Port = port;
        return RejectReason.None;
    }

    private static RejectReason ParseAbsolute(ReadOnlySpan<byte> target, ref TargetParts parts)
    {
        int schemeLength = SchemeLength(target);
        if (schemeLength == 0)
        {
            // "host:port" (digits after the colon) is authority-form used with a method other than CONNECT.
            int colon = target.IndexOf(HttpCharacters.Colon);
            return colon > 0 && colon < target.Length - 1 && target[(colon + 1)..].IndexOfAnyExcept(HttpCharacters.Digits) < 0
                ? RejectReason.AuthorityFormNotConnect
                : RejectReason.InvalidTarget;
        }

        int authorityStart = schemeLength + 3;
        ReadOnlySpan<byte> afterSlashes = target[authorityStart..];
        int authorityEnd = afterSlashes.IndexOfAny("/?#"u8);
        ReadOnlySpan<byte> authority = authorityEnd < 0 ? afterSlashes : afterSlashes[..authorityEnd];

        // RFC 9110 §4.2.4: userinfo in an http(s) URI is deprecated and a recipient SHOULD treat it
        // as an error; a proxy that forwarded it could leak credentials or be confused about the host.
        if (authority.Contains((byte)'@'))
        {
            return RejectReason.TargetUserinfo;
        }

        RejectReason reason = AuthorityParser.Parse(authority, allowEmptyHost: false, out int hostOffset, out int hostLength, out HostKind kind, out int port);
        if (reason != RejectReason.None)
        {
            return reason;
        }

        ReadOnlySpan<byte> scheme = target[..schemeLength];
        parts.Scheme = AsciiBytes.EqualsLower(scheme, "http"u8) ? SchemeKind.Http
            : AsciiBytes.EqualsLower(scheme, "https"u8) ? SchemeKind.Https
            : SchemeKind.Other;
        parts.Form = TargetForm.Absolute;
        parts.HostOffset = authorityStart + hostOffset;
        parts.HostLength = hostLength;
        parts.HostKind = kind;
        parts.Port = port != AuthorityParser.NoPort ? port
            : parts.Scheme == SchemeKind.Http ? HttpPort
            : parts.Scheme == SchemeKind.Https ? HttpsPort
            : 0;
        parts.PathOffset = authorityStart + authority.Length;
        parts.PathLength = target.Length - parts.PathOffset;
        return RejectReason.None;
    }

    /// <summary>Length of <c>scheme</c> when the target starts with <c>scheme "://"</c> (RFC 3986 §3.1), else 0.</summary>
    private static int SchemeLength(ReadOnlySpan<byte> target)
    {
        if (!HttpCharacters.IsAlpha(target[0]))
        {
            return 0;
        }

        int end = target[1..].IndexOfAnyExcept(HttpCharacters.Scheme);
        if (end < 0)
        {
            return 0;
        }

        end++;
        return target[end..].StartsWith("://"u8) ? end : 0;
    }
}
