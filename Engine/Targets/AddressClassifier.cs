using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Engine.Targets;

/// <summary>
/// Classifies a resolved destination address. The proxy checks the address it is about to
/// connect to, never the name, so a DNS answer that points at 127.0.0.1 (rebinding) is caught.
/// </summary>
internal static class AddressClassifier
{
    public static AddressClass Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> v4 = stackalloc byte[4];
            address.TryWriteBytes(v4, out _);
            return ClassifyV4(BinaryPrimitives.ReadUInt32BigEndian(v4));
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return AddressClass.Reserved;
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);

        // IPv4-mapped (::ffff:a.b.c.d, RFC 4291 2.5.5.2) and the deprecated IPv4-compatible form
        // (::a.b.c.d) reach the IPv4 host on dual-stack sockets: judge them as IPv4.
        if (IsZero(b[..10]) && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0 && !IsZero(b[12..14]))))
        {
            return ClassifyV4(BinaryPrimitives.ReadUInt32BigEndian(b[12..]));
        }

        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) embeds an IPv4 destination too.
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && IsZero(b[4..12]))
        {
            return ClassifyV4(BinaryPrimitives.ReadUInt32BigEndian(b[12..]));
        }

        if (IsZero(b))
        {
            return AddressClass.Unspecified;
        }

        if (IsZero(b[..15]) && b[15] == 1)
        {
            return AddressClass.Loopback;
        }

        // AWS IMDS over IPv6: fd00:ec2::254.
        if (b[0] == 0xfd && b[1] == 0x00 && b[2] == 0x0e && b[3] == 0xc2 && IsZero(b[4..14]) && b[14] == 0x02 && b[15] == 0x54)
        {
            return AddressClass.Metadata;
        }

        return b[0] switch
        {
            0xff => AddressClass.Multicast,                                   // ff00::/8
            0xfe when (b[1] & 0xc0) == 0x80 => AddressClass.LinkLocal,       // fe80::/10
            0xfe when (b[1] & 0xc0) == 0xc0 => AddressClass.Private,         // fec0::/10 site-local (deprecated, still routed inside sites)
            0xfc or 0xfd => AddressClass.Private,                            // fc00::/7 unique local (RFC 4193)
            // 2001:db8::/32 documentation (RFC 3849), 100::/64 discard (RFC 6666).
            0x20 when b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 => AddressClass.Reserved,
            0x01 when b[1] == 0x00 && IsZero(b[2..8]) => AddressClass.Reserved,
            _ => AddressClass.Public,
        };
    }

    private static AddressClass ClassifyV4(uint a)
    {
        byte first = (byte)(a >> 24);
        byte second = (byte)(a >> 16);

        if (a == 0xA9FE_A9FE)
        {
            return AddressClass.Metadata;                                     // 169.254.169.254: cloud metadata
        }

        if (a == 0xFFFF_FFFF)
        {
            return AddressClass.Broadcast;
        }

        return first switch
        {
            0 => a == 0 ? AddressClass.Unspecified : AddressClass.Reserved,   // 0.0.0.0/8 "this network"
            10 => AddressClass.Private,                                       // RFC 1918
            127 => AddressClass.Loopback,
            100 when (second & 0xC0) == 64 => AddressClass.Private,           // 100.64.0.0/10 carrier-grade NAT (RFC 6598)
            169 when second == 254 => AddressClass.LinkLocal,
            172 when (second & 0xF0) == 16 => AddressClass.Private,           // RFC 1918
            192 when second == 168 => AddressClass.Private,                   // RFC 1918
            192 when second == 0 && (byte)(a >> 8) == 0 => AddressClass.Reserved,   // 192.0.0.0/24 IETF protocol assignments
            198 when (second & 0xFE) == 18 => AddressClass.Reserved,          // 198.18.0.0/15 benchmarking (RFC 2544)
            >= 224 and <= 239 => AddressClass.Multicast,
            >= 240 => AddressClass.Reserved,
            _ => AddressClass.Public,
        };
    }

    private static bool IsZero(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);
}
