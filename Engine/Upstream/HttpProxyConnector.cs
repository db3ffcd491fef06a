using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;

namespace Engine.Upstream;

/// <summary>
/// Opens a tunnel through an upstream HTTP proxy with CONNECT (RFC 9110 §9.3.6), Basic
/// credentials when configured. Bytes that arrive behind the 200's head already belong to the
/// target and are returned as <c>Early</c>: the caller relays them before anything else.
/// </summary>
internal static class HttpProxyConnector
{
    /// <summary>Proxies answer CONNECT with short heads; 16 KiB is ample (Squid's error pages come as bodies).</summary>
    public const int MaxResponseHeadBytes = 16 * 1024;

    public static async ValueTask<(ConnectStatus Status, int NodeStatusCode, ReadOnlyMemory<byte> Early)> ConnectAsync(
        Socket node, string host, int port, string? proxyAuthorization, CancellationToken cancellationToken)
    {
        var request = new StringBuilder(128);
        string authority = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";
        request.Append("CONNECT ").Append(authority).Append(" HTTP/1.1\r\nHost: ").Append(authority).Append("\r\n");
        if (proxyAuthorization is not null)
        {
            request.Append("Proxy-Authorization: ").Append(proxyAuthorization).Append("\r\n");
        }

        request.Append("\r\n");
        byte[] buffer = new byte[MaxResponseHeadBytes];
        try
        {
            int length = Encoding.ASCII.GetBytes(request.ToString(), buffer);
            await node.SendAsync(buffer.AsMemory(0, length), SocketFlags.None, cancellationToken).ConfigureAwait(false);

            int headLength = -1;
            int filled = 0;
            while (headLength < 0)
            {
                if (filled == buffer.Length)
                {
                    return (ConnectStatus.NodeProtocolError, 0, default);
                }

                int n = await node.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return (ConnectStatus.NodeUnavailable, 0, default);
                }

                // Only the new bytes (and the three before them) can complete the terminator.
                int from = Math.Max(0, filled - 3);
                filled += n;
                int end = buffer.AsSpan(from, filled - from).IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    headLength = from + end + 4;
                }
            }

            (ConnectStatus status, int code) = Classify(buffer.AsSpan(0, headLength));
            return (status, code, buffer.AsMemory(headLength, filled - headLength));
        }
        catch (SocketException)
        {
            return (ConnectStatus.NodeUnavailable, 0, default);
        }
    }

    /// <summary>Splits the upstream proxy's answer into node-side and target-side failures.</summary>
    internal static (ConnectStatus Status, int NodeStatusCode) Classify(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.x NNN" at least.
        if (head.Length < 12 || !head.StartsWith("HTTP/1."u8) || head[8] != (byte)' '
            || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out int digits) || digits != 3)
        {
            return (ConnectStatus.NodeProtocolError, 0);
        }

        ConnectStatus result = status switch
        {
            >= 200 and < 300 => ConnectStatus.Connected,
            407 => ConnectStatus.NodeAuthFailed,
            // tinyproxy 1.11 answers a CONNECT with wrong Basic credentials "401 Unauthorized" (a 407 only
            // when they are missing). A CONNECT's 401 can only come from the proxy: no target is reached yet.
            401 => ConnectStatus.NodeAuthFailed,
            // Squid marks a failed lookup with X-Squid-Error: ERR_DNS_FAIL; others say 502/503 for both.
            502 or 503 when head.IndexOf("ERR_DNS_FAIL"u8) >= 0 => ConnectStatus.NameNotResolved,
            // Squid 5.7 loses the DNS error on CONNECT: NXDOMAIN (or no DNS answer) leaves peer selection
            // with no destination and it answers "500 ... X-Squid-Error: ERR_CANNOT_FORWARD 0"
            // (debug 44,2: "found all 0 destinations"). Without cache_peers that means the name did not resolve.
            500 or 502 or 503 when head.IndexOf("ERR_CANNOT_FORWARD"u8) >= 0 => ConnectStatus.NameNotResolved,
            502 or 503 => ConnectStatus.Refused,
            504 => ConnectStatus.TimedOut,
            // tinyproxy answers 500 "Unable to connect" when the target refuses.
            500 when head.IndexOf("Unable to connect"u8) >= 0 => ConnectStatus.Refused,
            _ => ConnectStatus.NodeUnavailable,
        };
        return (result, status);
    }
}
