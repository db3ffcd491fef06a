using System.Buffers;
using System.Text;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>STYLE.md allocation budget: the parser allocates 0 bytes per request in steady state.</summary>
public class HttpRequestParserAllocationTests
{
    internal static readonly byte[] ProxyGet = Encoding.ASCII.GetBytes(
        "GET http://www.example.com/products/item-12345.html?ref=search&page=2 HTTP/1.1\r\n" +
        "Host: www.example.com\r\n" +
        "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\r\n" +
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
        "Accept-Encoding: gzip, deflate, br\r\n" +
        "Accept-Language: en-US,en;q=0.9\r\n" +
        "Proxy-Authorization: Basic dXNlci1jb3VudHJ5LXVzLXNlc3Npb24tYWJjMTIzOnBhc3N3b3Jk\r\n" +
        "Proxy-Connection: keep-alive\r\n" +
        "Connection: keep-alive\r\n" +
        "\r\n");

    internal static readonly byte[] Connect = Encoding.ASCII.GetBytes(
        "CONNECT www.example.com:443 HTTP/1.1\r\n" +
        "Host: www.example.com:443\r\n" +
        "User-Agent: curl/8.5.0\r\n" +
        "Proxy-Authorization: Basic dXNlci1jb3VudHJ5LXVzOnBhc3N3b3Jk\r\n" +
        "Proxy-Connection: Keep-Alive\r\n" +
        "\r\n");

    [Fact]
    public void ParseHead_SteadyState_AllocatesNothing() => Assert.Equal(0, MeasureParses().Bytes);

    /// <summary>Bytes allocated by 20,000 parsed heads after warm-up (the allocation-budget measurer).</summary>
    internal static Engine.Tests.Diagnostics.AllocationMeasurement MeasureParses()
    {
        if (ProxyGet.Length is < 450 or > 600)
        {
            throw new InvalidOperationException("the typical head should be ~500 bytes");
        }

        var parser = new HttpRequestParser();
        var head = new RequestHead();
        var getSequence = new ReadOnlySequence<byte>(ProxyGet);
        var connectSequence = new ReadOnlySequence<byte>(Connect);

        for (int i = 0; i < 1000; i++)
        {
            ParseBoth(parser, head, getSequence, connectSequence);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            ParseBoth(parser, head, getSequence, connectSequence);
        }

        return new(GC.GetAllocatedBytesForCurrentThread() - before, 20_000, 0, "head");
    }

    private static void ParseBoth(HttpRequestParser parser, RequestHead head, ReadOnlySequence<byte> get, ReadOnlySequence<byte> connect)
    {
        parser.Reset();
        var reader = new SequenceReader<byte>(get);
        if (parser.ParseHead(ref reader, head) != ParseStatus.Complete || head.TargetPort != 80)
        {
            throw new InvalidOperationException("GET head did not parse");
        }

        parser.Reset();
        reader = new SequenceReader<byte>(connect);
        if (parser.ParseHead(ref reader, head) != ParseStatus.Complete || head.TargetPort != 443)
        {
            throw new InvalidOperationException("CONNECT head did not parse");
        }
    }
}
