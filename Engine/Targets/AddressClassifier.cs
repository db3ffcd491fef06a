using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Engine.Targets;

/// <summary>
/// Classifies a resolved destination address. The proxy checks the address it is about to
/// connect to, never the name, so a DNS answer that points at 127.0.0.1 (rebinding) is caught.
/// </summary>
/// <remarks>
/// Covers the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and updates, as of
/// 2025): every block that is not "globally reachable" is refused, and so is IPv6 space outside
/// 2000::/3 (unassigned by IANA: nothing there is a real destination). Forms that embed an IPv4
/// destination are judged by that IPv4 address: IPv4-mapped and IPv4-compatible, NAT64
/// 64:ff9b::/96 (RFC 6052) and 6to4 2002::/16 (RFC 3056, bytes 2–5). The host's own addresses
/// are not a property of the address: <see cref="TargetPolicy"/> checks them with <see cref="LocalAddresses"/>.
/// </remarks>
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
        if (TryGetEmbeddedV4(b, out uint embedded))
        {
            return ClassifyV4(embedded);
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

        ushort first = BinaryPrimitives.ReadUInt16BigEndian(b);
        ushort second = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
        return b[0] switch
        {
            0xff => AddressClass.Multicast,                                   // ff00::/8
            0xfe when (b[1] & 0xc0) == 0x80 => AddressClass.LinkLocal,       // fe80::/10
            0xfe when (b[1] & 0xc0) == 0xc0 => AddressClass.Private,         // fec0::/10 site-local (deprecated, still routed inside sites)
            0xfc or 0xfd => AddressClass.Private,                            // fc00::/7 unique local (RFC 4193)
            // 64:ff9b:1::/48 local-use IPv4/IPv6 translation (RFC 8215): a site's own NAT64.
            0x00 when first == 0x0064 && second == 0xff9b && b[4] == 0 && b[5] == 1 => AddressClass.Private,
            _ when (b[0] & 0xe0) != 0x20 => AddressClass.Reserved,          // outside 2000::/3: ::/8, 100::/64, 5f00::/16 SRv6 (RFC 9602), unassigned
            _ => ClassifyGlobalV6(first, second, b),
        };
    }

    /// <summary>
    /// The IPv4 destination inside an IPv6 address that carries one: IPv4-mapped (::ffff:a.b.c.d,
    /// RFC 4291 2.5.5.2) and IPv4-compatible (::a.b.c.d, deprecated) reach the IPv4 host on
    /// dual-stack sockets; NAT64 64:ff9b::/96 and 6to4 2002:AABB:CCDD::/48 are routed to it.
    /// </summary>
    public static bool TryGetEmbeddedV4(ReadOnlySpan<byte> b, out uint v4)
    {
        if (IsZero(b[..10]) && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0 && !IsZero(b[12..14]))))
        {
            v4 = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
            return true;
        }

        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && IsZero(b[4..12]))
        {
            v4 = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
            return true;
        }

        if (b[0] == 0x20 && b[1] == 0x02)
        {
            v4 = BinaryPrimitives.ReadUInt32BigEndian(b[2..]);
            return true;
        }

        v4 = 0;
        return false;
    }

    /// <summary>2000::/3 special-purpose blocks (IANA IPv6 special registry).</summary>
    private static AddressClass ClassifyGlobalV6(ushort first, ushort second, ReadOnlySpan<byte> b)
    {
        if (first == 0x2001)
        {
            if (second == 0x0db8)
            {
                return AddressClass.Reserved;                                 // 2001:db8::/32 documentation (RFC 3849)
            }

            if (second < 0x0200)
            {
                // 2001::/23 IETF protocol assignments: Teredo 2001::/32, benchmarking 2001:2::/48,
                // ORCHID 2001:10::/28, … are not globally reachable; a few anycast and AMT blocks are.
                bool global = (second == 0x0001 && IsZero(b[4..15]) && b[15] is >= 1 and <= 3)   // 2001:1::1-3 PCP, TURN, DNS-SD SRP anycast
                    || second == 0x0003                                                       // 2001:3::/32 AMT
                    || (second == 0x0004 && b[4] == 0x01 && b[5] == 0x12)                     // 2001:4:112::/48 AS112
                    || (second & 0xfff0) == 0x0020                                            // 2001:20::/28 ORCHIDv2
                    || (second & 0xfff0) == 0x0030;                                           // 2001:30::/28 drone remote ID
                return global ? AddressClass.Public : AddressClass.Reserved;
            }
        }

        // 3fff::/20 documentation (RFC 9637).
        return first == 0x3fff && (second & 0xf000) == 0 ? AddressClass.Reserved : AddressClass.Public;
    }

    private static AddressClass ClassifyV4(uint a)
    {
        byte first = (byte)(a >> 24);
        byte second = (byte)(a >> 16);
        byte third = (byte)(a >> 8);

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
            192 when second == 0 && third == 0 => AddressClass.Reserved,      // 192.0.0.0/24 IETF protocol assignments (RFC 6890)
            192 when second == 0 && third == 2 => AddressClass.Reserved,      // 192.0.2.0/24 TEST-NET-1 (RFC 5737)
            192 when second == 88 && third == 99 => AddressClass.Reserved,    // 192.88.99.0/24 6to4 relay anycast (deprecated, RFC 7526)
            198 when (second & 0xFE) == 18 => AddressClass.Reserved,          // 198.18.0.0/15 benchmarking (RFC 2544)
            198 when second == 51 && third == 100 => AddressClass.Reserved,   // 198.51.100.0/24 TEST-NET-2 (RFC 5737)
            203 when second == 0 && third == 113 => AddressClass.Reserved,    // 203.0.113.0/24 TEST-NET-3 (RFC 5737)
            >= 224 and <= 239 => AddressClass.Multicast,
            >= 240 => AddressClass.Reserved,                                  // 240.0.0.0/4 reserved (RFC 1112)
            _ => AddressClass.Public,
        };
    }

    private static bool IsZero(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExcept((byte)0);
}
