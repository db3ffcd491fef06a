using System.Buffers;

namespace Engine.Http;

/// <summary>Byte classes of the HTTP grammar, as vectorised <see cref="SearchValues{T}"/>.</summary>
internal static class HttpCharacters
{
    public const byte CR = (byte)'\r';
    public const byte LF = (byte)'\n';
    public const byte SP = (byte)' ';
    public const byte HTAB = (byte)'\t';
    public const byte Colon = (byte)':';

    /// <summary>tchar (RFC 9110 §5.6.2): method names, field names, coding names, chunk-ext names.</summary>
    public static readonly SearchValues<byte> Token =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>
    /// Request-target bytes: visible ASCII (0x21-0x7E). RFC 3986 leaves out <c>" &lt; &gt; \ ^ ` { | }</c>,
    /// but clients send them raw in queries and nginx, Kestrel and llhttp accept them, so a scraping
    /// gateway does too; controls, SP, DEL and non-ASCII are refused (RFC 9112 §3.2).
    /// </summary>
    public static readonly SearchValues<byte> Target = SearchValues.Create(Range(0x21, 0x7E));

    /// <summary>field-value bytes (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB. Never NUL, CR, LF or other controls.</summary>
    public static readonly SearchValues<byte> FieldValue = SearchValues.Create([HTAB, .. Range(0x20, 0x7E), .. Range(0x80, 0xFF)]);

    /// <summary>reg-name (RFC 3986 §3.2.2): unreserved, sub-delims and '%' of pct-encoded.</summary>
    public static readonly SearchValues<byte> RegName =
        SearchValues.Create("-._~!$&'()*+,;=%0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Characters of an absolute-URI scheme after its first letter (RFC 3986 §3.1).</summary>
    public static readonly SearchValues<byte> Scheme =
        SearchValues.Create("+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static readonly SearchValues<byte> Digits = SearchValues.Create("0123456789"u8);

    public static bool IsWhitespace(byte b) => b is SP or HTAB;

    public static bool IsAlpha(byte b) => (uint)((b | 0x20) - 'a') <= 'z' - 'a';

    public static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    /// <summary>Hex digit value, or -1.</summary>
    public static int HexValue(byte b)
    {
        if ((uint)(b - '0') <= 9)
        {
            return b - '0';
        }

        uint lower = (uint)((b | 0x20) - 'a');
        return lower <= 5 ? (int)lower + 10 : -1;
    }

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

    private static byte[] Range(int first, int last)
    {
        var bytes = new byte[last - first + 1];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(first + i);
        }

        return bytes;
    }
}
