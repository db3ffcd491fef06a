using System.Buffers;
using System.Text;

using Engine.Http;

namespace Engine.Forwarding;

/// <summary>
/// Response-side byte classes and the list helpers of RFC 9110 §5.6. The token table and OWS
/// trimming are <see cref="HttpCharacters"/>'s, shared with the request parser.
/// </summary>
internal static class FieldSyntax
{
    // RFC 9110 §5.5: CR, LF and NUL in a field value are "invalid and dangerous"; other CTLs MAY be retained.
    public static readonly SearchValues<byte> CrLfNul = SearchValues.Create("\r\n\0"u8);

    // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), i.e. every CTL but HTAB is out.
    public static readonly SearchValues<byte> ControlsExceptTab = SearchValues.Create(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0A\x0B\x0C\x0D\x0E\x0F\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1A\x1B\x1C\x1D\x1E\x1F\x7F"u8);

    public static bool IsToken(ReadOnlySpan<byte> value) => !value.IsEmpty && !value.ContainsAnyExcept(HttpCharacters.Token);

    public static bool IsControlExceptTab(byte b) => (b < 0x20 && b != (byte)'\t') || b == 0x7F;

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

        return HttpCharacters.TrimWhitespace(element);
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
