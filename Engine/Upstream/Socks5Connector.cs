using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// Opens a tunnel through an upstream SOCKS5 proxy (RFC 1928), with RFC 1929 username/password
/// when credentials are configured. Host names are passed through (ATYP 3) so the node resolves
/// them in its own country, as residential exits must.
/// </summary>
internal static class Socks5Connector
{
    private const byte Version = 0x05;
    private const byte MethodNoAuth = 0x00;
    private const byte MethodUserPass = 0x02;
    private const byte MethodNoneAcceptable = 0xFF;

    public static async ValueTask<ConnectStatus> HandshakeAsync(
        TcpSocket node, string host, int port, string? username, string? password, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[600];   // largest message: RFC 1929 auth, 3 + 255 + 255 bytes
        bool withAuth = username is not null;
        try
        {
            // Greeting: offer user/pass only when we have it, so a node never asks for what we lack.
            int n = 0;
            buffer[n++] = Version;
            buffer[n++] = 1;
            buffer[n++] = withAuth ? MethodUserPass : MethodNoAuth;
            await node.SendAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            if (!await ReceiveExactlyAsync(node, buffer.AsMemory(0, 2), cancellationToken).ConfigureAwait(false))
            {
                // Closed before answering: the node is down or shedding load, as when an HTTP node closes.
                return ConnectStatus.NodeUnavailable;
            }

            if (buffer[0] != Version)
            {
                return ConnectStatus.NodeProtocolError;
            }

            byte method = buffer[1];
            if (method == MethodNoneAcceptable)
            {
                return ConnectStatus.NodeAuthFailed;
            }

            if (method == MethodUserPass && withAuth)
            {
                ConnectStatus auth = await AuthenticateAsync(node, buffer, username!, password ?? string.Empty, cancellationToken).ConfigureAwait(false);
                if (auth != ConnectStatus.Connected)
                {
                    return auth;
                }
            }
            else if (method != MethodNoAuth)
            {
                return ConnectStatus.NodeProtocolError;
            }

            n = WriteConnectRequest(buffer, host, port);
            if (n < 0)
            {
                return ConnectStatus.NodeCannotCarry;
            }

            await node.SendAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            return await ReadReplyAsync(node, buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return ConnectStatus.NodeUnavailable;
        }
    }

    private static async ValueTask<ConnectStatus> AuthenticateAsync(TcpSocket node, byte[] buffer, string username, string password, CancellationToken cancellationToken)
    {
        int userLength = Encoding.UTF8.GetByteCount(username);
        int passLength = Encoding.UTF8.GetByteCount(password);
        if (userLength is 0 or > 255 || passLength > 255)
        {
            return ConnectStatus.NodeAuthFailed;
        }

        int n = 0;
        buffer[n++] = 0x01;   // RFC 1929 sub-negotiation version
        buffer[n++] = (byte)userLength;
        n += Encoding.UTF8.GetBytes(username, buffer.AsSpan(n));
        buffer[n++] = (byte)passLength;
        n += Encoding.UTF8.GetBytes(password, buffer.AsSpan(n));
        await node.SendAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
        if (!await ReceiveExactlyAsync(node, buffer.AsMemory(0, 2), cancellationToken).ConfigureAwait(false))
        {
            return ConnectStatus.NodeUnavailable;
        }

        return buffer[1] == 0x00 ? ConnectStatus.Connected : ConnectStatus.NodeAuthFailed;
    }

    private static int WriteConnectRequest(Span<byte> buffer, string host, int port)
    {
        int n = 0;
        buffer[n++] = Version;
        buffer[n++] = 0x01;   // CONNECT
        buffer[n++] = 0x00;
        if (IPAddress.TryParse(host, out IPAddress? literal))
        {
            buffer[n++] = literal.AddressFamily == AddressFamily.InterNetwork ? (byte)0x01 : (byte)0x04;
            literal.TryWriteBytes(buffer[n..], out int written);
            n += written;
        }
        else
        {
            int length = Encoding.ASCII.GetByteCount(host);
            if (length is 0 or > 255)
            {
                return -1;
            }

            buffer[n++] = 0x03;
            buffer[n++] = (byte)length;
            n += Encoding.ASCII.GetBytes(host, buffer[n..]);
        }

        BinaryPrimitives.WriteUInt16BigEndian(buffer[n..], (ushort)port);
        return n + 2;
    }

    private static async ValueTask<ConnectStatus> ReadReplyAsync(TcpSocket node, byte[] buffer, CancellationToken cancellationToken)
    {
        // VER REP RSV ATYP, then BND.ADDR (length by ATYP) and BND.PORT, all consumed so that
        // the next byte on the socket is the target's.
        if (!await ReceiveExactlyAsync(node, buffer.AsMemory(0, 5), cancellationToken).ConfigureAwait(false))
        {
            return ConnectStatus.NodeUnavailable;
        }

        if (buffer[0] != Version)
        {
            return ConnectStatus.NodeProtocolError;
        }

        int remaining = buffer[3] switch
        {
            0x01 => 4 - 1 + 2,
            0x04 => 16 - 1 + 2,
            0x03 => buffer[4] + 2,
            _ => -1,
        };
        if (remaining < 0 || !await ReceiveExactlyAsync(node, buffer.AsMemory(5, remaining), cancellationToken).ConfigureAwait(false))
        {
            return ConnectStatus.NodeProtocolError;
        }

        return ClassifyReply(buffer[1]);
    }

    /// <summary>RFC 1928 §6 reply codes, split into node-side and target-side failures.</summary>
    internal static ConnectStatus ClassifyReply(byte reply) => reply switch
    {
        0x00 => ConnectStatus.Connected,
        0x01 => ConnectStatus.NodeUnavailable,     // general failure: nothing says the target is at fault
        0x02 => ConnectStatus.NodeUnavailable,     // not allowed by the node's ruleset
        0x03 => ConnectStatus.Refused,             // network unreachable
        0x04 => ConnectStatus.Refused,             // host unreachable (dante and microsocks also use it for DNS failures)
        0x05 => ConnectStatus.Refused,             // connection refused by the target
        0x06 => ConnectStatus.TimedOut,            // TTL expired
        0x07 or 0x08 => ConnectStatus.NodeCannotCarry,
        _ => ConnectStatus.NodeProtocolError,
    };

    private static async ValueTask<bool> ReceiveExactlyAsync(TcpSocket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }

            buffer = buffer[n..];
        }

        return true;
    }
}
