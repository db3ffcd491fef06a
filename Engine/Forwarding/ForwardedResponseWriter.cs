using System.Buffers;
using Engine.Http;

namespace Engine.Forwarding;

/// <summary>
/// Writes a response head forwarded to the client: this hop's status line (a proxy sends its own
/// HTTP version, RFC 9110 §6.2), the upstream's end-to-end fields, <c>Via</c> (RFC 9110 §7.6.3)
/// and <c>Proxy-Status</c> (RFC 9209).
/// </summary>
internal static class ForwardedResponseWriter
{
    // Status codes are three digits once parsed; the writer reserves room for any int regardless.
    private const int MaxStatusCodeLength = 11;

    private static ReadOnlySpan<byte> Http11Space => "HTTP/1.1 "u8;

    private static ReadOnlySpan<byte> ViaPrefix => "Via: 1."u8;

    private static ReadOnlySpan<byte> ProxyStatusPrefix => "Proxy-Status: "u8;

    private static ReadOnlySpan<byte> NextHopParameter => "; next-hop="u8;

    private static ReadOnlySpan<byte> ReceivedStatusParameter => "; received-status="u8;

    private static ReadOnlySpan<byte> ListSeparator => ", "u8;

    private static ReadOnlySpan<byte> ConnectionName => "Connection"u8;

    private static ReadOnlySpan<byte> ConnectionUpgrade => "Connection: upgrade\r\n"u8;

    /// <summary>Writes <c>HTTP/1.1 SP status SP reason CRLF</c> (the SP before an empty reason is required, RFC 9112 §4).</summary>
    public static void WriteStatusLine(IBufferWriter<byte> writer, int statusCode, ReadOnlySpan<byte> reasonPhrase)
    {
        int length = Http11Space.Length + MaxStatusCodeLength + 1 + reasonPhrase.Length + 2;
        Span<byte> span = writer.GetSpan(length);
        Http11Space.CopyTo(span);
        int position = Http11Space.Length;
        position += HeadWriter.WriteDecimal(span[position..], statusCode);
        span[position++] = (byte)' ';
        reasonPhrase.CopyTo(span[position..]);
        position += reasonPhrase.Length;
        span[position++] = (byte)'\r';
        span[position++] = (byte)'\n';
        writer.Advance(position);
    }

    /// <summary>
    /// Writes <c>Via: 1.x pseudonym CRLF</c>: x is the minor version this proxy received the
    /// response in; HTTP's protocol name is omitted (RFC 9110 §7.6.3). Appended as a separate field
    /// line after any received Via lines, which keeps the list in order.
    /// </summary>
    public static void WriteVia(IBufferWriter<byte> writer, int receivedMinorVersion, ReadOnlySpan<byte> pseudonym)
    {
        int length = ViaPrefix.Length + 1 + 1 + pseudonym.Length + 2;
        Span<byte> span = writer.GetSpan(length);
        ViaPrefix.CopyTo(span);
        int position = ViaPrefix.Length;
        span[position++] = (byte)('0' + receivedMinorVersion);
        span[position++] = (byte)' ';
        pseudonym.CopyTo(span[position..]);
        position += pseudonym.Length;
        span[position++] = (byte)'\r';
        span[position++] = (byte)'\n';
        writer.Advance(position);
    }

    /// <summary>
    /// Writes <c>Proxy-Status: name; next-hop=host; received-status=NNN CRLF</c> for a response this
    /// proxy forwarded (no <c>error</c> parameter, RFC 9209 §2). Name and next-hop are written as
    /// sf-tokens when they are valid ones and as sf-strings otherwise (RFC 8941 §3.3.3–4), e.g. an
    /// IP literal, which cannot start a token. An empty <paramref name="nextHop"/> is omitted.
    /// </summary>
    public static void WriteProxyStatus(IBufferWriter<byte> writer, ReadOnlySpan<byte> proxyName, ReadOnlySpan<byte> nextHop, int receivedStatus) =>
        WriteProxyStatus(writer, null, proxyName, nextHop, receivedStatus);

    /// <summary>
    /// As above, after the members the upstream's own Proxy-Status field lines carry: RFC 9209 §2 orders the
    /// list from the origin side to the client side, so this hop's member is the last one. One field line, so
    /// a client that keeps only the first or only the last line of a repeated field still sees both sides.
    /// </summary>
    private static void WriteProxyStatus(IBufferWriter<byte> writer, ResponseHead? head, ReadOnlySpan<byte> proxyName, ReadOnlySpan<byte> nextHop, int receivedStatus)
    {
        HeadWriter.Write(writer, ProxyStatusPrefix);
        if (head is not null)
        {
            for (int i = 0; i < head.HeaderCount; i++)
            {
                HeaderField field = head.GetHeader(i);
                if (head.KindOf(i) == ForwardingHeader.ProxyStatus && !field.Value.IsEmpty && !head.IsHopByHop(i, head.StatusCode == 101))
                {
                    HeadWriter.Write(writer, field.Value);
                    HeadWriter.Write(writer, ListSeparator);
                }
            }
        }

        // Worst case every byte of name and next-hop is escaped in an sf-string.
        int length = (2 * proxyName.Length) + 2 + NextHopParameter.Length + (2 * nextHop.Length) + 2
            + ReceivedStatusParameter.Length + MaxStatusCodeLength + 2;
        Span<byte> span = writer.GetSpan(length);
        int position = WriteTokenOrString(span, proxyName);
        if (!nextHop.IsEmpty)
        {
            NextHopParameter.CopyTo(span[position..]);
            position += NextHopParameter.Length;
            position += WriteTokenOrString(span[position..], nextHop);
        }

        ReceivedStatusParameter.CopyTo(span[position..]);
        position += ReceivedStatusParameter.Length;
        position += HeadWriter.WriteDecimal(span[position..], receivedStatus);
        span[position++] = (byte)'\r';
        span[position++] = (byte)'\n';
        writer.Advance(position);
    }

    /// <summary>
    /// Writes the whole forwarded head: status line, every field that is not hop-by-hop, Via,
    /// Proxy-Status, the Connection this hop needs, and the empty line. The upstream's X-Proxy-Error,
    /// X-Proxy-Detail and X-Proxy-Correlation-Id are never forwarded, whoever sent them: their presence is
    /// how a client tells an engine error from the target's answer (spec/errors.md), and a website or a
    /// chained proxy must not be able to make its page look like one. Its Proxy-Status members are kept,
    /// ahead of this hop's. On a 101 the Upgrade field is
    /// kept and <c>Connection: upgrade</c> written (RFC 9110 §7.8); otherwise
    /// <paramref name="clientConnection"/>, if not empty, becomes the Connection value (<c>close</c>
    /// when the client connection ends after this response, <c>keep-alive</c> for an HTTP/1.0 client
    /// that keeps it).
    /// </summary>
    /// <param name="extraFields">Complete field lines (each ending CRLF) the engine adds, e.g. X-Proxy-Node.</param>
    public static void WriteHead(IBufferWriter<byte> writer, ResponseHead head, ReadOnlySpan<byte> pseudonym, ReadOnlySpan<byte> nextHop,
        ReadOnlySpan<byte> clientConnection, ReadOnlySpan<byte> extraFields = default)
    {
        bool upgrading = head.StatusCode == 101;
        WriteStatusLine(writer, head.StatusCode, head.ReasonPhrase);
        for (int i = 0; i < head.HeaderCount; i++)
        {
            if (!head.IsHopByHop(i, upgrading))
            {
                HeaderField field = head.GetHeader(i);
                if (head.KindOf(i) is not (ForwardingHeader.EngineErrorField or ForwardingHeader.ProxyStatus))
                {
                    HeadWriter.WriteField(writer, field.Name, field.Value);
                }
            }
        }

        WriteVia(writer, head.MinorVersion, pseudonym);
        WriteProxyStatus(writer, head, pseudonym, nextHop, head.StatusCode);
        if (!extraFields.IsEmpty)
        {
            HeadWriter.Write(writer, extraFields);
        }

        if (upgrading)
        {
            HeadWriter.Write(writer, ConnectionUpgrade);
        }
        else if (!clientConnection.IsEmpty)
        {
            HeadWriter.WriteField(writer, ConnectionName, clientConnection);
        }

        HeadWriter.WriteEndOfHead(writer);
    }

    // sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ); sf-string = DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE
    private static int WriteTokenOrString(Span<byte> destination, ReadOnlySpan<byte> value)
    {
        if (IsSfToken(value))
        {
            value.CopyTo(destination);
            return value.Length;
        }

        int position = 0;
        destination[position++] = (byte)'"';
        foreach (byte b in value)
        {
            if (b is < 0x20 or > 0x7E)
            {
                continue;   // not representable in an sf-string; a diagnostic field loses nothing by dropping it
            }

            if (b is (byte)'"' or (byte)'\\')
            {
                destination[position++] = (byte)'\\';
            }

            destination[position++] = b;
        }

        destination[position++] = (byte)'"';
        return position;
    }

    private static bool IsSfToken(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty || !(char.IsAsciiLetter((char)value[0]) || value[0] == (byte)'*'))
        {
            return false;
        }

        foreach (byte b in value[1..])
        {
            if (!HttpCharacters.Token.Contains(b) && b is not ((byte)':' or (byte)'/'))
            {
                return false;
            }
        }

        return true;
    }
}
