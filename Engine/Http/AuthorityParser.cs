namespace Engine.Http;

/// <summary>
/// Parses <c>host [":" port]</c> (RFC 3986 §3.2.2-3.2.3) for request-targets and the Host field.
/// Syntax only: names are not resolved and IP literals are not converted, so nothing allocates.
/// </summary>
internal static class AuthorityParser
{
    /// <summary>Port value when the authority has none (or an empty one, which RFC 3986 §3.2.3 treats as absent).</summary>
    public const int NoPort = -1;

    /// <returns><see cref="RejectReason.None"/>, or EmptyHost, InvalidTarget (host syntax), InvalidPort.</returns>
    public static RejectReason Parse(ReadOnlySpan<byte> authority, bool allowEmptyHost, out int hostOffset, out int hostLength, out HostKind kind, out int port)
    {
        hostOffset = 0;
        hostLength = 0;
        kind = HostKind.None;
        port = NoPort;

        ReadOnlySpan<byte> rest;
        if (!authority.IsEmpty && authority[0] == (byte)'[')
        {
            int close = authority.IndexOf((byte)']');
            if (close < 0 || !IsIPv6(authority[1..close]))
            {
                return RejectReason.InvalidTarget;
            }

            hostOffset = 1;
            hostLength = close - 1;
            kind = HostKind.IPv6;
            rest = authority[(close + 1)..];
            if (!rest.IsEmpty && rest[0] != HttpCharacters.Colon)
            {
                return RejectReason.InvalidTarget;
            }
        }
        else
        {
            int colon = authority.IndexOf(HttpCharacters.Colon);
            ReadOnlySpan<byte> host = colon < 0 ? authority : authority[..colon];
            rest = colon < 0 ? default : authority[colon..];
            if (host.IsEmpty)
            {
                if (!allowEmptyHost)
                {
                    return RejectReason.EmptyHost;
                }
            }
            else
            {
                if (host.IndexOfAnyExcept(HttpCharacters.RegName) >= 0 || !PercentEncodingIsValid(host))
                {
                    return RejectReason.InvalidTarget;
                }

                kind = IsIPv4(host) ? HostKind.IPv4 : HostKind.Name;
            }

            hostLength = host.Length;
        }

        if (rest.Length > 1)
        {
            ReadOnlySpan<byte> digits = rest[1..];
            if (digits.IndexOfAnyExcept(HttpCharacters.Digits) >= 0)
            {
                return RejectReason.InvalidPort;
            }

            // Leading zeros are allowed by RFC 3986 (port = *DIGIT); the value must fit 1..65535.
            int value = 0;
            foreach (byte b in digits)
            {
                value = (value * 10) + (b - '0');
                if (value > 65535)
                {
                    return RejectReason.InvalidPort;
                }
            }

            if (value == 0)
            {
                return RejectReason.InvalidPort;
            }

            port = value;
        }

        return RejectReason.None;
    }

    private static bool PercentEncodingIsValid(ReadOnlySpan<byte> text)
    {
        int percent;
        while ((percent = text.IndexOf((byte)'%')) >= 0)
        {
            if (percent + 2 >= text.Length
                || HttpCharacters.HexValue(text[percent + 1]) < 0
                || HttpCharacters.HexValue(text[percent + 2]) < 0)
            {
                return false;
            }

            text = text[(percent + 3)..];
        }

        return true;
    }

    /// <summary>Dotted-decimal IPv4 (RFC 3986 §3.2.2 IPv4address): four decimal octets, no leading zeros.</summary>
    public static bool IsIPv4(ReadOnlySpan<byte> host)
    {
        int octets = 0;
        int value = 0;
        int digits = 0;
        foreach (byte b in host)
        {
            if (HttpCharacters.IsDigit(b))
            {
                if (digits > 0 && value == 0)
                {
                    return false;
                }

                value = (value * 10) + (b - '0');
                digits++;
                if (value > 255)
                {
                    return false;
                }
            }
            else if (b == (byte)'.' && digits > 0 && octets < 3)
            {
                octets++;
                value = 0;
                digits = 0;
            }
            else
            {
                return false;
            }
        }

        return octets == 3 && digits > 0;
    }

    /// <summary>
    /// IPv6address of RFC 3986 §3.2.2: up to eight 16-bit hex groups, one "::" at most, optionally
    /// ending in a dotted IPv4. IPvFuture and zone identifiers are refused: no origin needs them.
    /// </summary>
    public static bool IsIPv6(ReadOnlySpan<byte> text)
    {
        if (text.Length is < 2 or > 45)
        {
            return false;
        }

        int groups = 0;
        bool compressed = false;
        int i = 0;
        if (text[0] == HttpCharacters.Colon)
        {
            if (text[1] != HttpCharacters.Colon)
            {
                return false;
            }

            compressed = true;
            i = 2;
            if (i == text.Length)
            {
                return true;
            }
        }

        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && i - start < 5 && HttpCharacters.HexValue(text[i]) >= 0)
            {
                i++;
            }

            int length = i - start;
            if (i < text.Length && text[i] == (byte)'.')
            {
                // Trailing IPv4 takes the place of two groups.
                if (!IsIPv4(text[start..]) || groups > 6)
                {
                    return false;
                }

                groups += 2;
                i = text.Length;
                break;
            }

            if (length is 0 or > 4)
            {
                return false;
            }

            groups++;
            if (i == text.Length)
            {
                break;
            }

            if (text[i] != HttpCharacters.Colon)
            {
                return false;
            }

            i++;
            if (i < text.Length && text[i] == HttpCharacters.Colon)
            {
                if (compressed)
                {
                    return false;
                }

                compressed = true;
                i++;
                if (i == text.Length)
                {
                    break;
                }
            }
            else if (i == text.Length)
            {
                return false;
            }
        }

        return compressed ? groups <= 7 : groups == 8;
    }
}
