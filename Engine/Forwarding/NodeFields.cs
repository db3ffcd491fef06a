using System.Buffers.Text;

namespace Engine.Forwarding;

/// <summary>
/// <c>X-Proxy-Node</c> (when <c>ExposeNode</c> is on) so a fleet can ban a bad exit, and
/// <c>X-Proxy-Attempts</c> when failover replaced a node before this answer: the engine's own
/// fields on a tunnel's 200 and on a forwarded response head.
/// </summary>
internal static class NodeFields
{
    /// <summary>Room for both fields with the node id truncated to 128 bytes.</summary>
    public const int MaxLength = 200;

    private const int MaxNodeIdBytes = 128;

    private static ReadOnlySpan<byte> ProxyNodeHeader => "X-Proxy-Node: "u8;

    private static ReadOnlySpan<byte> AttemptsHeader => "X-Proxy-Attempts: "u8;

    public static int Write(Span<byte> span, bool exposeNode, ReadOnlySpan<byte> nodeId, int attempts)
    {
        int n = 0;
        if (exposeNode && nodeId.Length > 0)
        {
            ProxyNodeHeader.CopyTo(span);
            n += ProxyNodeHeader.Length;
            ReadOnlySpan<byte> id = nodeId[..Math.Min(nodeId.Length, MaxNodeIdBytes)];
            id.CopyTo(span[n..]);
            n += id.Length;
            "\r\n"u8.CopyTo(span[n..]);
            n += 2;
        }

        if (attempts > 1)
        {
            AttemptsHeader.CopyTo(span[n..]);
            n += AttemptsHeader.Length;
            Utf8Formatter.TryFormat(attempts, span[n..], out int written);
            n += written;
            "\r\n"u8.CopyTo(span[n..]);
            n += 2;
        }

        return n;
    }
}
