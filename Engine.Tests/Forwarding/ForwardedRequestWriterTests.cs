using System.Buffers;
using System.Text;
using Engine.Forwarding;

using Engine.Http;

namespace Engine.Tests.Forwarding;

public class ForwardedRequestWriterTests
{
    private static string Written(Action<IBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return Encoding.Latin1.GetString(writer.WrittenSpan);
    }

    [Theory]
    [InlineData("GET", "/a/b?c=d", "GET /a/b?c=d HTTP/1.1\r\n")]
    [InlineData("GET", "", "GET / HTTP/1.1\r\n")]
    [InlineData("GET", "?q=1", "GET /?q=1 HTTP/1.1\r\n")]
    [InlineData("OPTIONS", "", "OPTIONS * HTTP/1.1\r\n")]
    [InlineData("OPTIONS", "/x", "OPTIONS /x HTTP/1.1\r\n")]
    [InlineData("POST", "/", "POST / HTTP/1.1\r\n")]
    public void WriteRequestLine_WritesOriginForm(string method, string originForm, string expected) =>
        Assert.Equal(expected, Written(w => ForwardedRequestWriter.WriteRequestLine(w, Encoding.Latin1.GetBytes(method), Encoding.Latin1.GetBytes(originForm))));

    [Theory]
    [InlineData("example.com", 80, 80, "Host: example.com\r\n")]
    [InlineData("example.com", 8080, 80, "Host: example.com:8080\r\n")]
    [InlineData("example.com", 443, 443, "Host: example.com\r\n")]
    [InlineData("example.com", 80, 443, "Host: example.com:80\r\n")]
    [InlineData("::1", 443, 443, "Host: [::1]\r\n")]
    [InlineData("2001:db8::1", 8443, 443, "Host: [2001:db8::1]:8443\r\n")]
    [InlineData("[::1]", 8080, 80, "Host: [::1]:8080\r\n")]
    [InlineData("192.0.2.1", 65535, 80, "Host: 192.0.2.1:65535\r\n")]
    public void WriteHost_OmitsDefaultPortAndBracketsIpv6(string host, int port, int defaultPort, string expected) =>
        Assert.Equal(expected, Written(w => ForwardedRequestWriter.WriteHost(w, Encoding.Latin1.GetBytes(host), port, defaultPort)));

    [Fact]
    public void WriteFieldsAndEnd_WriteExactBytes() =>
        Assert.Equal("Accept: */*\r\nConnection: close\r\n\r\n", Written(w =>
        {
            HeadWriter.WriteField(w, "Accept"u8, "*/*"u8);
            ForwardedRequestWriter.WriteConnectionClose(w);
            HeadWriter.WriteEndOfHead(w);
        }));

    [Fact]
    public void WriteRequestHead_ReusedWriter_AllocatesNothing()
    {
        var writer = new ArrayBufferWriter<byte>(1024);

        void WriteOnce()
        {
            writer.ResetWrittenCount();
            ForwardedRequestWriter.WriteRequestLine(writer, "GET"u8, "/index.html?x=1"u8);
            ForwardedRequestWriter.WriteHost(writer, "example.com"u8, 8080, ForwardedRequestWriter.HttpDefaultPort);
            HeadWriter.WriteField(writer, "Accept"u8, "*/*"u8);
            HeadWriter.WriteEndOfHead(writer);
        }

        WriteOnce();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            WriteOnce();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData("Connection", "", true)]
    [InlineData("proxy-connection", "", true)]
    [InlineData("Keep-Alive", "", true)]
    [InlineData("Proxy-Authorization", "", true)]
    [InlineData("Proxy-Authenticate", "", true)]
    [InlineData("TE", "", true)]
    [InlineData("Trailer", "", true)]
    [InlineData("Upgrade", "", true)]
    [InlineData("Transfer-Encoding", "", false)]
    [InlineData("Transfer-Encoding", "transfer-encoding", false)]
    [InlineData("Content-Length", "close, Content-Length", false)]
    [InlineData("Host", "host", false)]
    [InlineData("X-Foo", "", false)]
    [InlineData("X-Foo", "close, x-foo", true)]
    [InlineData("x-foo", "X-FOO", true)]
    [InlineData("X-Foo", "x-foobar, ,x-fo", false)]
    [InlineData("Accept", "keep-alive", false)]
    public void IsHopByHop_ClassifiesByNameAndConnectionOptions(string name, string connection, bool expected) =>
        Assert.Equal(expected, HopByHopHeaders.IsHopByHop(Encoding.Latin1.GetBytes(name), Encoding.Latin1.GetBytes(connection)));

    [Fact]
    public void IsHopByHop_Upgrading_KeepsUpgrade()
    {
        Assert.False(HopByHopHeaders.IsHopByHop("Upgrade"u8, default, upgrading: true));
        Assert.True(HopByHopHeaders.IsHopByHop("Connection"u8, default, upgrading: true));
    }
}
