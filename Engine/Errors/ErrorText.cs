using System.Buffers;
using System.Text;

namespace Engine.Errors;

/// <summary>
/// Escaping of caller-supplied bytes (detail, request target, node id…) for the two places they are echoed:
/// a JSON string (RFC 8259) and a header field value (RFC 9110 §5.5, printable ASCII only, one line).
/// Input is treated as UTF-8: valid sequences pass through into JSON unchanged, invalid bytes become U+FFFD,
/// so the body is always valid UTF-8 JSON whatever the client sent.
/// </summary>
internal static class ErrorText
{
    /// <summary>Worst-case JSON output bytes per input byte (a control byte becomes <c>\u00XX</c>).</summary>
    public const int JsonExpansion = 6;

    /// <summary>Worst-case sf-string output bytes per input byte (<c>"</c> becomes <c>\"</c>).</summary>
    public const int QuotedExpansion = 2;

    /// <summary>Appended where an echoed value was cut.</summary>
    public static ReadOnlySpan<byte> Ellipsis => "..."u8;

    // JSON: everything printable in ASCII except the two characters that must be escaped; DEL is escaped
    // too (valid JSON either way, but it garbles terminals that show the body).
    private static readonly SearchValues<byte> s_jsonPlain = SearchValues.Create(PrintableAsciiExcept("\"\\"u8));
    private static readonly SearchValues<byte> s_headerPlain = SearchValues.Create(PrintableAsciiExcept([]));

    private static ReadOnlySpan<byte> Hex => "0123456789abcdef"u8;

    /// <summary>
    /// At most <paramref name="maxBytes"/> bytes of <paramref name="value"/>, cut back to a UTF-8 character
    /// boundary so a multi-byte character is never split into an invalid tail.
    /// </summary>
    public static ReadOnlySpan<byte> Truncate(ReadOnlySpan<byte> value, int maxBytes, out bool truncated)
    {
        if (value.Length <= maxBytes)
        {
            truncated = false;
            return value;
        }

        truncated = true;
        int cut = maxBytes;

        // Back off over continuation bytes (10xxxxxx) to the lead byte of the character being cut, at most 3.
        for (int i = 0; i < 3 && cut > 0 && (value[cut] & 0xC0) == 0x80; i++)
        {
            cut--;
        }

        return value[..cut];
    }

    /// <summary>
    /// Writes <paramref name="value"/> as the inside of a JSON string. <paramref name="destination"/> must hold
    /// <see cref="JsonExpansion"/> bytes per input byte.
    /// </summary>
    public static int WriteJson(Span<byte> destination, ReadOnlySpan<byte> value)
    {
        int written = 0;
        while (!value.IsEmpty)
        {
            int plain = value.IndexOfAnyExcept(s_jsonPlain);
            if (plain < 0)
            {
                value.CopyTo(destination[written..]);
                return written + value.Length;
            }

            value[..plain].CopyTo(destination[written..]);
            written += plain;
            value = value[plain..];

            byte b = value[0];
            if (b < 0x80)
            {
                written += WriteJsonEscape(destination[written..], b);
                value = value[1..];
                continue;
            }

            OperationStatus status = Rune.DecodeFromUtf8(value, out _, out int consumed);
            if (status == OperationStatus.Done)
            {
                value[..consumed].CopyTo(destination[written..]);
                written += consumed;
            }
            else
            {
                // U+FFFD as an escape (6 bytes) keeps the output within JsonExpansion for a 1-byte invalid sequence.
                "\\ufffd"u8.CopyTo(destination[written..]);
                written += 6;
            }

            value = value[consumed..];
        }

        return written;
    }

    /// <summary>
    /// Writes <paramref name="value"/> as one line of printable ASCII for a header field: controls (CR, LF, TAB…)
    /// become a space and each non-ASCII character (or invalid byte run) one <c>?</c>. With
    /// <paramref name="quoted"/> the result is also the inside of an RFC 8941 sf-string: <c>"</c> and <c>\</c>
    /// are backslash-escaped (<see cref="QuotedExpansion"/> bytes per input byte).
    /// </summary>
    public static int WriteHeader(Span<byte> destination, ReadOnlySpan<byte> value, bool quoted)
    {
        SearchValues<byte> plainSet = quoted ? s_jsonPlain : s_headerPlain;
        int written = 0;
        while (!value.IsEmpty)
        {
            int plain = value.IndexOfAnyExcept(plainSet);
            if (plain < 0)
            {
                value.CopyTo(destination[written..]);
                return written + value.Length;
            }

            value[..plain].CopyTo(destination[written..]);
            written += plain;
            value = value[plain..];

            byte b = value[0];
            if (b == '"' || b == '\\')
            {
                destination[written++] = (byte)'\\';
                destination[written++] = b;
                value = value[1..];
            }
            else if (b < 0x80)
            {
                destination[written++] = (byte)' ';
                value = value[1..];
            }
            else
            {
                _ = Rune.DecodeFromUtf8(value, out _, out int consumed);
                destination[written++] = (byte)'?';
                value = value[consumed..];
            }
        }

        return written;
    }

    private static int WriteJsonEscape(Span<byte> destination, byte b)
    {
        byte shortForm = b switch
        {
            (byte)'"' => (byte)'"',
            (byte)'\\' => (byte)'\\',
            (byte)'\n' => (byte)'n',
            (byte)'\r' => (byte)'r',
            (byte)'\t' => (byte)'t',
            (byte)'\b' => (byte)'b',
            (byte)'\f' => (byte)'f',
            _ => 0,
        };

        destination[0] = (byte)'\\';
        if (shortForm != 0)
        {
            destination[1] = shortForm;
            return 2;
        }

        destination[1] = (byte)'u';
        destination[2] = (byte)'0';
        destination[3] = (byte)'0';
        destination[4] = Hex[b >> 4];
        destination[5] = Hex[b & 0xF];
        return 6;
    }

    private static byte[] PrintableAsciiExcept(ReadOnlySpan<byte> excluded)
    {
        var bytes = new List<byte>(95);
        for (int b = 0x20; b < 0x7F; b++)
        {
            if (!excluded.Contains((byte)b))
            {
                bytes.Add((byte)b);
            }
        }

        return [.. bytes];
    }
}
