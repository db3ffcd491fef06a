using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Diagnostics;

/// <summary>
/// Appends one access log line to a fixed span. Every string field is capped at
/// <see cref="MaxFieldBytes"/> bytes of output, so a line never outgrows <see cref="MaxLineBytes"/>
/// whatever a client put in its request.
/// </summary>
internal ref struct AccessLogLineWriter(Span<byte> buffer)
{
    public const int MaxFieldBytes = 512;

    /// <summary>A node's error id and signal name (the <c>upstream</c> fields) are identifiers: 64 bytes of output each.</summary>
    public const int MaxUpstreamFieldBytes = 64;

    /// <summary>Seven capped string fields (≈3.6 KB), two short upstream ones, the client endpoint, numbers and keys stay below this.</summary>
    public const int MaxLineBytes = 4096;

    private readonly Span<byte> _buffer = buffer;

    public int Length { get; private set; }

    public void Raw(scoped ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[Length..]);
        Length += bytes.Length;
    }

    public void Append(long value)
    {
        Utf8Formatter.TryFormat(value, _buffer[Length..], out int written);
        Length += written;
    }

    public void Append(DateTime utc)
    {
        // RFC 3339 with milliseconds: sortable and unambiguous.
        utc.TryFormat(_buffer[Length..], out int written, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        Length += written;
    }

    /// <summary><c>1.2.3.4:5</c> or <c>[::1]:5</c>; an IPv4-mapped client is written as IPv4.</summary>
    public void Append(IPEndPoint endPoint)
    {
        IPAddress address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        bool v6 = address.AddressFamily == AddressFamily.InterNetworkV6;
        if (v6)
        {
            Raw("["u8);
        }

        Span<char> chars = stackalloc char[64];
        if (address.TryFormat(chars, out int n))
        {
            Length += Encoding.ASCII.GetBytes(chars[..n], _buffer[Length..]);
        }

        if (v6)
        {
            Raw("]"u8);
        }

        Raw(":"u8);
        Append(endPoint.Port);
    }

    // logfmt values never contain spaces, quotes, '=' or control bytes in output, so the line
    // stays parseable whatever a client put in its request target.
    public void LogfmtField(ReadOnlySpan<byte> value, int maxBytes = MaxFieldBytes)
    {
        if (value.IsEmpty)
        {
            Raw("-"u8);
            return;
        }

        foreach (byte b in value[..Math.Min(value.Length, maxBytes)])
        {
            _buffer[Length++] = b is > 0x20 and < 0x7F and not (byte)'"' and not (byte)'=' ? b : (byte)'?';
        }
    }

    public void LogfmtField(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            Raw("-"u8);
            return;
        }

        foreach (char c in value[..Math.Min(value.Length, MaxFieldBytes)])
        {
            _buffer[Length++] = c is > ' ' and < (char)0x7F and not '"' and not '=' ? (byte)c : (byte)'?';
        }
    }

    /// <summary>
    /// A JSON string (RFC 8259 §7), or <c>null</c> when empty. Bytes from the wire are not known to
    /// be UTF-8, so anything outside printable ASCII is escaped as <c>\u00XX</c> (Latin-1): the
    /// output is always valid UTF-8 JSON and no byte is silently lost.
    /// </summary>
    public void JsonString(ReadOnlySpan<byte> value, int maxBytes = MaxFieldBytes)
    {
        if (value.IsEmpty)
        {
            Raw("null"u8);
            return;
        }

        _buffer[Length++] = (byte)'"';
        int end = Length + maxBytes;
        foreach (byte b in value)
        {
            if (!TryJsonChar(b, end))
            {
                break;
            }
        }

        _buffer[Length++] = (byte)'"';
    }

    /// <summary>A JSON string from UTF-16; non-ASCII as <c>\uXXXX</c> escapes, a lone surrogate as <c>?</c>.</summary>
    public void JsonString(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            Raw("null"u8);
            return;
        }

        _buffer[Length++] = (byte)'"';
        int end = Length + MaxFieldBytes;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                if (Length + 12 > end)
                {
                    break;
                }

                Escape(c);
                Escape(value[++i]);
            }
            else if (!TryJsonChar(char.IsSurrogate(c) ? '?' : c, end))
            {
                break;
            }
        }

        _buffer[Length++] = (byte)'"';
    }

    private bool TryJsonChar(char c, int end)
    {
        bool plain = c is >= ' ' and < (char)0x7F and not '"' and not '\\';
        int needed = plain ? 1 : c is '"' or '\\' ? 2 : 6;
        if (Length + needed > end)
        {
            return false;
        }

        if (plain)
        {
            _buffer[Length++] = (byte)c;
        }
        else if (needed == 2)
        {
            _buffer[Length++] = (byte)'\\';
            _buffer[Length++] = (byte)c;
        }
        else
        {
            Escape(c);
        }

        return true;
    }

    private bool TryJsonChar(byte b, int end) => TryJsonChar((char)b, end);

    private void Escape(char c)
    {
        _buffer[Length++] = (byte)'\\';
        _buffer[Length++] = (byte)'u';
        _buffer[Length++] = Hex(c >> 12);
        _buffer[Length++] = Hex(c >> 8);
        _buffer[Length++] = Hex(c >> 4);
        _buffer[Length++] = Hex(c);
    }

    private static byte Hex(int nibble) => (byte)"0123456789abcdef"[nibble & 0xF];
}
