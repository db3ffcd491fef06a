using System.Buffers;
using System.Buffers.Binary;
using System.Net;

namespace Engine.Transport;

/// <summary>What reading a PROXY protocol header found so far.</summary>
internal enum ProxyHeaderStatus : byte
{
    /// <summary>The bytes so far are a valid beginning: read more.</summary>
    Incomplete,
    Complete,
    /// <summary>Not a PROXY header, or a malformed one: the connection is closed unanswered.</summary>
    Invalid,
}

/// <summary>
/// The PROXY protocol header (HAProxy's spec, versions 1 and 2) that an L4 load balancer puts in
/// front of a connection to pass on the client's address. Only on listeners configured for it:
/// there a header is required, as HAProxy's <c>accept-proxy</c> requires it, since otherwise any
/// client could claim any address and walk past IP allowlists.
/// </summary>
/// <remarks>
/// v1 is one text line of at most 107 bytes: <c>PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n</c>.
/// v2 is a 12-byte signature, version/command, family, a big-endian length and the addresses, then
/// TLVs that are skipped. <c>UNKNOWN</c>, <c>LOCAL</c> (the balancer's own health check) and
/// non-TCP families carry no client address: the socket's peer stands then.
/// </remarks>
internal static class ProxyProtocolHeader
{
    public const int MaxV1Length = 107;

    /// <summary>Address block plus TLVs accepted in a v2 header; real balancers send well under this.</summary>
    public const int MaxV2Payload = 1024;

    private const int V2FixedLength = 16;

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <param name="consumed">Bytes of the header (when <see cref="ProxyHeaderStatus.Complete"/>).</param>
    /// <param name="source">The client's address and port, or null when the header carries none.</param>
    public static ProxyHeaderStatus TryParse(in ReadOnlySequence<byte> buffer, out int consumed, out IPEndPoint? source)
    {
        consumed = 0;
        source = null;
        Span<byte> head = stackalloc byte[V2FixedLength + MaxV2Payload];
        int length = (int)Math.Min(buffer.Length, head.Length);
        buffer.Slice(0, length).CopyTo(head);
        head = head[..length];
        if (head.IsEmpty)
        {
            return ProxyHeaderStatus.Incomplete;
        }

        ProxyHeaderStatus status = head[0] == (byte)'P' ? ParseV1(head, out consumed, out source)
            : head[0] == V2Signature[0] ? ParseV2(head, out consumed, out source)
            : ProxyHeaderStatus.Invalid;
        if (status != ProxyHeaderStatus.Complete)
        {
            // Only a complete header consumes anything (the fuzz target's first find: an invalid
            // line reported its own length).
            consumed = 0;
            source = null;
        }

        return status;
    }

    private static ProxyHeaderStatus ParseV1(ReadOnlySpan<byte> head, out int consumed, out IPEndPoint? source)
    {
        consumed = 0;
        source = null;
        int prefix = Math.Min(head.Length, V1Prefix.Length);
        if (!head[..prefix].SequenceEqual(V1Prefix[..prefix]))
        {
            return ProxyHeaderStatus.Invalid;
        }

        int end = head[..Math.Min(head.Length, MaxV1Length)].IndexOf("\r\n"u8);
        if (end < 0)
        {
            return head.Length >= MaxV1Length ? ProxyHeaderStatus.Invalid : ProxyHeaderStatus.Incomplete;
        }

        ReadOnlySpan<byte> line = head[V1Prefix.Length..end];
        consumed = end + 2;
        Span<Range> fields = stackalloc Range[6];
        int count = SplitOnSpaces(line, fields);
        if (line.StartsWith("UNKNOWN"u8) && (line.Length == 7 || line[7] == (byte)' '))
        {
            return ProxyHeaderStatus.Complete;   // the rest of the line is to be ignored (spec 2.1)
        }

        if (count != 5)
        {
            return ProxyHeaderStatus.Invalid;
        }

        bool v4 = line[fields[0]].SequenceEqual("TCP4"u8);
        if (!v4 && !line[fields[0]].SequenceEqual("TCP6"u8))
        {
            return ProxyHeaderStatus.Invalid;
        }

        if (!TryAddress(line[fields[1]], v4, out IPAddress? address) || !TryAddress(line[fields[2]], v4, out _)
            || !TryPort(line[fields[3]], out int port) || !TryPort(line[fields[4]], out _))
        {
            return ProxyHeaderStatus.Invalid;
        }

        source = new IPEndPoint(address!, port);
        return ProxyHeaderStatus.Complete;
    }

    private static ProxyHeaderStatus ParseV2(ReadOnlySpan<byte> head, out int consumed, out IPEndPoint? source)
    {
        consumed = 0;
        source = null;
        int signature = Math.Min(head.Length, V2Signature.Length);
        if (!head[..signature].SequenceEqual(V2Signature[..signature]))
        {
            return ProxyHeaderStatus.Invalid;
        }

        if (head.Length < V2FixedLength)
        {
            return ProxyHeaderStatus.Incomplete;
        }

        int version = head[12] >> 4, command = head[12] & 0x0F;
        int payload = BinaryPrimitives.ReadUInt16BigEndian(head[14..]);
        if (version != 2 || command > 1 || payload > MaxV2Payload)
        {
            return ProxyHeaderStatus.Invalid;
        }

        if (head.Length < V2FixedLength + payload)
        {
            return ProxyHeaderStatus.Incomplete;
        }

        consumed = V2FixedLength + payload;
        ReadOnlySpan<byte> addresses = head.Slice(V2FixedLength, payload);
        if (command == 0)
        {
            return ProxyHeaderStatus.Complete;   // LOCAL: the balancer speaking for itself
        }

        switch (head[13])
        {
            case 0x11:   // TCP over IPv4: src 4, dst 4, sport 2, dport 2
                if (payload < 12)
                {
                    return ProxyHeaderStatus.Invalid;
                }

                source = new IPEndPoint(new IPAddress(addresses[..4]), BinaryPrimitives.ReadUInt16BigEndian(addresses[8..]));
                return ProxyHeaderStatus.Complete;
            case 0x21:   // TCP over IPv6: src 16, dst 16, sport 2, dport 2
                if (payload < 36)
                {
                    return ProxyHeaderStatus.Invalid;
                }

                source = new IPEndPoint(new IPAddress(addresses[..16]), BinaryPrimitives.ReadUInt16BigEndian(addresses[32..]));
                return ProxyHeaderStatus.Complete;
            default:
                return ProxyHeaderStatus.Complete;   // UNSPEC, UDP, UNIX: no TCP client address to use
        }
    }

    // Single spaces separate the fields (spec 2.1); an empty field (two spaces) makes the line invalid.
    private static int SplitOnSpaces(ReadOnlySpan<byte> line, Span<Range> fields)
    {
        int count = 0, start = 0;
        for (int i = 0; i <= line.Length; i++)
        {
            if (i == line.Length || line[i] == (byte)' ')
            {
                if (count == fields.Length || i == start)
                {
                    return -1;
                }

                fields[count++] = new Range(start, i);
                start = i + 1;
            }
        }

        return count;
    }

    private static bool TryAddress(ReadOnlySpan<byte> text, bool v4, out IPAddress? address)
    {
        address = null;
        Span<char> chars = stackalloc char[46];
        if (text.IsEmpty || text.Length > chars.Length)
        {
            return false;
        }

        for (int i = 0; i < text.Length; i++)
        {
            chars[i] = (char)text[i];
        }

        return IPAddress.TryParse(chars[..text.Length], out address)
            && address.AddressFamily == (v4 ? System.Net.Sockets.AddressFamily.InterNetwork : System.Net.Sockets.AddressFamily.InterNetworkV6);
    }

    // Decimal 0-65535 without sign or leading zeros (spec 2.1: "0" or no leading zero).
    private static bool TryPort(ReadOnlySpan<byte> text, out int port)
    {
        port = 0;
        if (text.IsEmpty || text.Length > 5 || (text.Length > 1 && text[0] == (byte)'0'))
        {
            return false;
        }

        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            port = (port * 10) + (b - '0');
        }

        return port <= 65535;
    }
}
