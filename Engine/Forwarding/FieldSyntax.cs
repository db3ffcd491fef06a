using System.Buffers;
using System.Text;

namespace Engine.Forwarding;

/// <summary>Byte classes and list helpers from RFC 9110 §5.6 shared by the response parser, the scanner and the writers.</summary>
internal static class FieldSyntax
{
    // RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    public static readonly SearchValues<byte> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // RFC 9110 §5.5: CR, LF and NUL in a field value are "invalid and dangerous"; other CTLs MAY be retained.
    public static readonly SearchValues<byte> CrLfNul = SearchValues.Create("\r\n\0"u8);

    // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), i.e. every CTL but HTAB is out.
    public static readonly SearchValues<byte> ControlsExceptTab = SearchValues.Create(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0A\x0B\x0C\x0D\x0E\x0F\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1A\x1B\x1C\x1D\x1E\x1F\x7F"u8);

    public static bool IsToken(ReadOnlySpan<byte> value) => !value.IsEmpty && !value.ContainsAnyExcept(TokenChars);

    public static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t';

    public static bool IsControlExceptTab(byte b) => (b < 0x20 && b != (byte)'\t') || b == 0x7F;

    /// <summary>Trims OWS (SP / HTAB, RFC 9110 §5.6.3) from both ends.</summary>
    public static ReadOnlySpan<byte> TrimWhitespace(ReadOnlySpan<byte> value)
    {
        int start = 0;
        while (start < value.Length && IsWhitespace(value[start]))
        {
            start++;
        }

        int end = value.Length;
        while (end > start && IsWhitespace(value[end - 1]))
        {
            end--;
        }

        return value[start..end];
    }

    /// <summary>
    /// Takes the next element of a comma-separated list (RFC 9110 §5.6.1), trimmed of OWS; empty
    /// elements are returned as empty spans, which recipients must accept and ignore.
    /// </summary>
    public static ReadOnlySpan<byte> NextElement(ref ReadOnlySpan<byte> list)
    {
        int comma = list.IndexOf((byte)',');
        ReadOnlySpan<byte> element;
        if (comma < 0)
        {
            element = list;
            list = default;
        }
        else
        {
            element = list[..comma];
            list = list[(comma + 1)..];
        }

        return TrimWhitespace(element);
    }

    /// <summary>Whether a comma-separated token list (a Connection value) names <paramref name="token"/>, case-insensitively.</summary>
    public static bool ListContainsToken(ReadOnlySpan<byte> list, ReadOnlySpan<byte> token)
    {
        while (!list.IsEmpty)
        {
            if (Ascii.EqualsIgnoreCase(NextElement(ref list), token))
            {
                return true;
            }
        }

        return false;
    }
}
