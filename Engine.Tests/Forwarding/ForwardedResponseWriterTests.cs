using System.Buffers;
using System.Text;
using Engine.Forwarding;

namespace Engine.Tests.Forwarding;

public class ForwardedResponseWriterTests
{
    private static string Written(Action<IBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return Encoding.Latin1.GetString(writer.WrittenSpan);
    }

    private static ResponseHead Parse(string input)
    {
        var head = new ResponseHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(input)));
        Assert.Equal(ResponseParseStatus.Complete, ResponseHeadParser.Default.Parse(ref reader, head, RequestMethodKind.Other));
        return head;
    }

    [Theory]
    [InlineData(200, "OK", "HTTP/1.1 200 OK\r\n")]
    [InlineData(204, "", "HTTP/1.1 204 \r\n")]
    [InlineData(599, "Custom Reason", "HTTP/1.1 599 Custom Reason\r\n")]
    public void WriteStatusLine_WritesThisHopsVersion(int status, string reason, string expected) =>
        Assert.Equal(expected, Written(w => ForwardedResponseWriter.WriteStatusLine(w, status, Encoding.Latin1.GetBytes(reason))));

    [Theory]
    [InlineData(1, "gw", "Via: 1.1 gw\r\n")]
    [InlineData(0, "gw-eu-1", "Via: 1.0 gw-eu-1\r\n")]
    public void WriteVia_WritesReceivedVersionAndPseudonym(int minor, string pseudonym, string expected) =>
        Assert.Equal(expected, Written(w => ForwardedResponseWriter.WriteVia(w, minor, Encoding.Latin1.GetBytes(pseudonym))));

    [Theory]
    [InlineData("gw", "example.com", 200, "Proxy-Status: gw; next-hop=example.com; received-status=200\r\n")]
    [InlineData("gw", "example.com:8080", 404, "Proxy-Status: gw; next-hop=example.com:8080; received-status=404\r\n")]
    [InlineData("gw", "192.0.2.1", 503, "Proxy-Status: gw; next-hop=\"192.0.2.1\"; received-status=503\r\n")]
    [InlineData("gw", "[::1]", 200, "Proxy-Status: gw; next-hop=\"[::1]\"; received-status=200\r\n")]
    [InlineData("my proxy", "a\"b\\c", 200, "Proxy-Status: \"my proxy\"; next-hop=\"a\\\"b\\\\c\"; received-status=200\r\n")]
    [InlineData("gw", "", 301, "Proxy-Status: gw; received-status=301\r\n")]
    public void WriteProxyStatus_WritesTokensOrStringsWithoutError(string name, string nextHop, int status, string expected) =>
        Assert.Equal(expected, Written(w => ForwardedResponseWriter.WriteProxyStatus(w, Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(nextHop), status)));

    // spec/errors.md: a forwarded response never carries the engine's error fields, whatever the target sent.
    [Fact]
    public void WriteHead_TargetSpoofingEngineErrorFields_TheyAreDroppedInAnyCase()
    {
        ResponseHead head = Parse(
            "HTTP/1.1 502 Bad Gateway\r\nX-Proxy-Error: NODE_UNAVAILABLE\r\nx-proxy-detail: fake\r\nX-PROXY-CORRELATION-ID: 5a7ns4ek0000015nm7\r\n"
            + "X-Proxy-Errors: kept\r\nX-Proxy-Node: kept\r\nContent-Length: 0\r\n\r\n");

        string written = Written(w => ForwardedResponseWriter.WriteHead(w, head, "gw"u8, "example.com"u8, default));

        Assert.Equal(
            "HTTP/1.1 502 Bad Gateway\r\nX-Proxy-Errors: kept\r\nX-Proxy-Node: kept\r\nContent-Length: 0\r\nVia: 1.1 gw\r\n"
            + "Proxy-Status: gw; next-hop=example.com; received-status=502\r\n\r\n",
            written);
    }

    // RFC 9209 §2: members run from the origin side to the client side; this hop's member comes last, in one line.
    [Fact]
    public void WriteHead_TargetProxyStatusLines_AreKeptAheadOfThisHopsMember()
    {
        ResponseHead head = Parse(
            "HTTP/1.1 200 OK\r\nProxy-Status: origin-cdn; received-status=200\r\nContent-Length: 0\r\n"
            + "proxy-status: edge, shield; error=http_response_incomplete\r\nProxy-Status:\r\n\r\n");

        string written = Written(w => ForwardedResponseWriter.WriteHead(w, head, "gw"u8, "example.com"u8, default));

        Assert.Equal(
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 gw\r\n"
            + "Proxy-Status: origin-cdn; received-status=200, edge, shield; error=http_response_incomplete, gw; next-hop=example.com; received-status=200\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteHead_ProxyStatusNamedInConnection_IsDroppedAsHopByHop()
    {
        ResponseHead head = Parse("HTTP/1.1 200 OK\r\nConnection: proxy-status\r\nProxy-Status: hop-only\r\nContent-Length: 0\r\n\r\n");

        string written = Written(w => ForwardedResponseWriter.WriteHead(w, head, "gw"u8, "example.com"u8, default));

        Assert.DoesNotContain("hop-only", written, StringComparison.Ordinal);
        Assert.Contains("\r\nProxy-Status: gw; next-hop=example.com; received-status=200\r\n", written, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteHead_DropsHopByHopAndAddsViaProxyStatusConnection()
    {
        ResponseHead head = Parse(
            "HTTP/1.0 200 Fine\r\nContent-Type: text/html\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Secret: s\r\n"
            + "Proxy-Authenticate: Basic\r\nContent-Length: 3\r\nVia: 1.1 upstream\r\n\r\n");

        string written = Written(w => ForwardedResponseWriter.WriteHead(w, head, "gw"u8, "example.com"u8, "close"u8));

        Assert.Equal(
            "HTTP/1.1 200 Fine\r\nContent-Type: text/html\r\nContent-Length: 3\r\nVia: 1.1 upstream\r\nVia: 1.0 gw\r\n"
            + "Proxy-Status: gw; next-hop=example.com; received-status=200\r\nConnection: close\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteHead_ChunkedResponse_KeepsTransferEncodingForTheRelayedFraming()
    {
        ResponseHead head = Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nTE: trailers\r\n\r\n");

        string written = Written(w => ForwardedResponseWriter.WriteHead(w, head, "gw"u8, default, default));

        Assert.Equal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nVia: 1.1 gw\r\nProxy-Status: gw; received-status=200\r\n\r\n", written);
    }

    [Fact]
    public void WriteHead_101_KeepsUpgradeAndWritesConnectionUpgrade()
    {
        ResponseHead head = Parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\n\r\n");

        string written = Written(w => ForwardedResponseWriter.WriteHead(w, head, "gw"u8, "ws.example"u8, "close"u8));

        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc=\r\nVia: 1.1 gw\r\n"
            + "Proxy-Status: gw; next-hop=ws.example; received-status=101\r\nConnection: upgrade\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteHead_ReusedWriter_AllocatesNothing()
    {
        ResponseHead head = Parse("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: x-a\r\nX-A: 1\r\nContent-Length: 3\r\n\r\n");
        var writer = new ArrayBufferWriter<byte>(1024);
        writer.ResetWrittenCount();
        ForwardedResponseWriter.WriteHead(writer, head, "gw"u8, "192.0.2.1"u8, "keep-alive"u8);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            writer.ResetWrittenCount();
            ForwardedResponseWriter.WriteHead(writer, head, "gw"u8, "192.0.2.1"u8, "keep-alive"u8);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
