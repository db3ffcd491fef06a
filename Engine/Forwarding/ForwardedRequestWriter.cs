using System.Buffers;
using System.Text;

namespace Engine.Forwarding;

/// <summary>
/// Writes the start of a request forwarded from absolute-form to an origin (RFC 9112 §3.2.2):
/// the request line in origin-form and a Host taken from the absolute URI. Takes bytes, not the
/// request parser's types, so the two evolve independently.
/// </summary>
internal static class ForwardedRequestWriter
{
    public const int HttpDefaultPort = 80;
    public const int HttpsDefaultPort = 443;

    // Beyond the host itself: brackets, a colon, any int as a port, CRLF.
    private const int HostFieldOverhead = 2 + 1 + 11 + 2;

    private static ReadOnlySpan<byte> Http11Suffix => " HTTP/1.1\r\n"u8;

    private static ReadOnlySpan<byte> HostPrefix => "Host: "u8;

    private static ReadOnlySpan<byte> Options => "OPTIONS"u8;

    private static ReadOnlySpan<byte> ConnectionClose => "Connection: close\r\n"u8;

    /// <summary>
    /// Writes <c>METHOD SP origin-form SP HTTP/1.1 CRLF</c>. <paramref name="originForm"/> is the
    /// absolute URI's path and query as received (<c>/a/b?c</c>), possibly empty.
    /// </summary>
    public static void WriteRequestLine(IBufferWriter<byte> writer, ReadOnlySpan<byte> method, ReadOnlySpan<byte> originForm)
    {
        // RFC 9112 §3.2.4: OPTIONS to an absolute URI with an empty path and no query is forwarded
        // as "*" by the last proxy. §3.2.1: otherwise an empty path is sent as "/".
        ReadOnlySpan<byte> prefix = default;
        if (originForm.IsEmpty)
        {
            originForm = Ascii.Equals(method, Options) ? "*"u8 : "/"u8;
        }
        else if (originForm[0] == (byte)'?')
        {
            prefix = "/"u8;
        }

        int length = method.Length + 1 + prefix.Length + originForm.Length + Http11Suffix.Length;
        Span<byte> span = writer.GetSpan(length);
        method.CopyTo(span);
        int position = method.Length;
        span[position++] = (byte)' ';
        prefix.CopyTo(span[position..]);
        position += prefix.Length;
        originForm.CopyTo(span[position..]);
        position += originForm.Length;
        Http11Suffix.CopyTo(span[position..]);
        writer.Advance(length);
    }

    /// <summary>
    /// Writes <c>Host: host[:port] CRLF</c>: the port is left out when it is the scheme's default
    /// (<paramref name="schemeDefaultPort"/>, 80 or 443), and an IPv6 literal is bracketed
    /// (RFC 3986 §3.2.2) if it is not already.
    /// </summary>
    public static void WriteHost(IBufferWriter<byte> writer, ReadOnlySpan<byte> host, int port, int schemeDefaultPort)
    {
        bool bracket = host.Contains((byte)':') && host[0] != (byte)'[';
        int length = HostPrefix.Length + host.Length + HostFieldOverhead;
        Span<byte> span = writer.GetSpan(length);
        HostPrefix.CopyTo(span);
        int position = HostPrefix.Length;
        if (bracket)
        {
            span[position++] = (byte)'[';
        }

        host.CopyTo(span[position..]);
        position += host.Length;
        if (bracket)
        {
            span[position++] = (byte)']';
        }

        if (port != schemeDefaultPort)
        {
            span[position++] = (byte)':';
            position += HeadWriter.WriteDecimal(span[position..], port);
        }

        span[position++] = (byte)'\r';
        span[position++] = (byte)'\n';
        writer.Advance(position);
    }

    /// <summary>Writes <c>Connection: close</c>, for an upstream connection that will not be pooled.</summary>
    public static void WriteConnectionClose(IBufferWriter<byte> writer) => HeadWriter.Write(writer, ConnectionClose);
}
