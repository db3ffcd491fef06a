using System.Buffers;
using System.Net.Sockets;
using System.Text;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Transport;

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

    public static async ValueTask<(ConnectStatus Status, NodeAnswer Answer, ReadOnlyMemory<byte> Early)> ConnectAsync(
        TcpSocket node, string host, int port, string? proxyAuthorization, CancellationToken cancellationToken)
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
            await node.SendAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);

            int headLength = -1;
            int filled = 0;
            while (headLength < 0)
            {
                if (filled == buffer.Length)
                {
                    return (ConnectStatus.NodeProtocolError, default, default);
                }

                int n = await node.ReceiveAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return (ConnectStatus.NodeUnavailable, default, default);
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

            (ConnectStatus status, NodeAnswer answer) = Classify(buffer.AsMemory(0, headLength));
            return (status, answer, buffer.AsMemory(headLength, filled - headLength));
        }
        catch (SocketException)
        {
            return (ConnectStatus.NodeUnavailable, default, default);
        }
    }

    /// <summary>
    /// Splits the upstream proxy's answer to CONNECT into node-side and target-side failures with
    /// <see cref="NodeAnswerClassifier"/>; the answer (status, the node's own error id, the signal) is what the
    /// problem body's <c>upstream</c> member and the access log report.
    /// </summary>
    internal static (ConnectStatus Status, NodeAnswer Answer) Classify(ReadOnlyMemory<byte> headBytes)
    {
        var head = new ResponseHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(headBytes));
        if (new ResponseHeadParser(MaxResponseHeadBytes).Parse(ref reader, head, RequestMethodKind.Connect) != ResponseParseStatus.Complete)
        {
            return (ConnectStatus.NodeProtocolError, default);
        }

        int status = head.StatusCode;
        if (status is >= 200 and < 300)
        {
            return (ConnectStatus.Connected, new NodeAnswer(NodeAnswerBlame.None, ErrorCode.None, NodeSignal.None, status, default));
        }

        NodeAnswer answer = NodeAnswerClassifier.Classify(head, connect: true);
        ConnectStatus result = status switch
        {
            407 => ConnectStatus.NodeAuthFailed,
            // tinyproxy 1.11 answers a CONNECT with wrong Basic credentials "401 Unauthorized" (a 407 only
            // when they are missing). A CONNECT's 401 can only come from the proxy: no target is reached yet.
            401 => ConnectStatus.NodeAuthFailed,
            _ => answer.Code switch
            {
                ErrorCode.NameNotResolved => ConnectStatus.NameNotResolved,
                ErrorCode.TargetConnectFailed or ErrorCode.TargetReset or ErrorCode.RequestError or ErrorCode.ResponseError => ConnectStatus.Refused,
                ErrorCode.GatewayTimeout => ConnectStatus.TimedOut,
                ErrorCode.BuildConnect or ErrorCode.BuildRequest => ConnectStatus.NodeCannotCarry,
                _ => ConnectStatus.NodeUnavailable,
            },
        };
        return (result, answer);
    }
}
