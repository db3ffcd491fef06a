using System.Buffers;
using System.Buffers.Binary;
using System.Net;

namespace Engine.Socks;

/// <summary>
/// The client's side of a SOCKS5 handshake, parsed from the connection's pipe without allocating:
/// greeting (RFC 1928 §3), username/password (RFC 1929 §2) and request (RFC 1928 §4). Each
/// message is bounded by its length bytes (at most 1 + 1 + 255 + 1 + 255), so no input makes a
/// parse scan further; nothing is consumed until a message is whole.
/// </summary>
internal static class Socks5Parser
{
    public const byte Version = 0x05;
    public const byte AuthVersion = 0x01;
    public const byte MethodNoAuth = 0x00;
    public const byte MethodUserPass = 0x02;
    public const byte MethodNoneAcceptable = 0xFF;
    public const byte AddressIPv4 = 0x01;
    public const byte AddressDomain = 0x03;
    public const byte AddressIPv6 = 0x04;

    /// <summary>Longest destination text: a 255-byte domain name, or an IPv6 address in brackets-free text.</summary>
    public const int MaxHostLength = 255;

    /// <summary>VER NMETHODS METHODS: which of the two methods we serve the client offers.</summary>
    public static Socks5ParseStatus ReadGreeting(ref SequenceReader<byte> reader, out bool offersNoAuth, out bool offersUserPass)
    {
        offersNoAuth = false;
        offersUserPass = false;
        SequenceReader<byte> start = reader;
        if (!reader.TryRead(out byte version) || !reader.TryRead(out byte count))
        {
            reader = start;
            return version != 0 && version != Version ? Socks5ParseStatus.Invalid : Socks5ParseStatus.Incomplete;
        }

        if (version != Version || count == 0)
        {
            return Socks5ParseStatus.Invalid;
        }

        if (reader.Remaining < count)
        {
            reader = start;
            return Socks5ParseStatus.Incomplete;
        }

        for (int i = 0; i < count; i++)
        {
            reader.TryRead(out byte method);
            offersNoAuth |= method == MethodNoAuth;
            offersUserPass |= method == MethodUserPass;
        }

        return Socks5ParseStatus.Complete;
    }

    /// <summary>VER ULEN UNAME PLEN PASSWD (RFC 1929), copied into the caller's buffers.</summary>
    public static Socks5ParseStatus ReadUserPass(ref SequenceReader<byte> reader, Span<byte> user, Span<byte> password, out int userLength, out int passwordLength)
    {
        userLength = 0;
        passwordLength = 0;
        SequenceReader<byte> start = reader;
        if (!reader.TryRead(out byte version))
        {
            return Socks5ParseStatus.Incomplete;
        }

        if (version != AuthVersion)
        {
            return Socks5ParseStatus.Invalid;
        }

        if (!reader.TryRead(out byte ulen))
        {
            reader = start;
            return Socks5ParseStatus.Incomplete;
        }

        if (reader.Remaining < ulen + 1)
        {
            reader = start;
            return Socks5ParseStatus.Incomplete;
        }

        reader.TryCopyTo(user[..ulen]);
        reader.Advance(ulen);
        reader.TryRead(out byte plen);
        if (reader.Remaining < plen)
        {
            reader = start;
            return Socks5ParseStatus.Incomplete;
        }

        reader.TryCopyTo(password[..plen]);
        reader.Advance(plen);
        userLength = ulen;
        passwordLength = plen;
        // The password is the package key: an empty one can never match, but it is well-formed.
        return Socks5ParseStatus.Complete;
    }

    /// <summary>VER CMD RSV ATYP DST.ADDR DST.PORT; the destination is written to <paramref name="host"/> as text.</summary>
    public static Socks5ParseStatus ReadRequest(ref SequenceReader<byte> reader, Span<byte> host, out Socks5Request request, out bool addressTypeUnsupported)
    {
        request = default;
        addressTypeUnsupported = false;
        SequenceReader<byte> start = reader;
        if (reader.Remaining < 5)
        {
            return reader.TryPeek(out byte first) && first != Version ? Socks5ParseStatus.Invalid : Socks5ParseStatus.Incomplete;
        }

        reader.TryRead(out byte version);
        reader.TryRead(out byte command);
        reader.TryRead(out byte reserved);
        reader.TryRead(out byte addressType);
        if (version != Version || reserved != 0)
        {
            return Socks5ParseStatus.Invalid;
        }

        int addressLength;
        switch (addressType)
        {
            case AddressIPv4:
                addressLength = 4;
                break;
            case AddressIPv6:
                addressLength = 16;
                break;
            case AddressDomain:
                reader.TryPeek(out byte domainLength);
                if (domainLength == 0)
                {
                    return Socks5ParseStatus.Invalid;
                }

                reader.Advance(1);
                addressLength = domainLength;
                break;
            default:
                addressTypeUnsupported = true;
                return Socks5ParseStatus.Invalid;
        }

        if (reader.Remaining < addressLength + 2)
        {
            reader = start;
            return Socks5ParseStatus.Incomplete;
        }

        Span<byte> address = stackalloc byte[MaxHostLength];
        reader.TryCopyTo(address[..addressLength]);
        reader.Advance(addressLength);
        Span<byte> portBytes = stackalloc byte[2];
        reader.TryCopyTo(portBytes);
        reader.Advance(2);
        int port = BinaryPrimitives.ReadUInt16BigEndian(portBytes);
        if (port == 0)
        {
            return Socks5ParseStatus.Invalid;
        }

        int hostLength;
        if (addressType == AddressDomain)
        {
            address[..addressLength].CopyTo(host);
            hostLength = addressLength;
        }
        else
        {
            var ip = new IPAddress(address[..addressLength]);
            if (!ip.TryFormat(host, out hostLength))
            {
                return Socks5ParseStatus.Invalid;
            }
        }

        request = new Socks5Request((Socks5Command)command, addressType, hostLength, port);
        return Socks5ParseStatus.Complete;
    }
}
