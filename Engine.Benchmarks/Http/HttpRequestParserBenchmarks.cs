using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Engine.Http;

namespace Engine.Benchmarks.Http;

/// <summary>
/// Request-head parsing on realistic proxy inputs. Baseline: locating the end of the head with a
/// vectorised search, the floor any parser that reads every byte pays.
/// </summary>
[MemoryDiagnoser]
public class HttpRequestParserBenchmarks
{
    private static readonly byte[] ProxyGet = Encoding.ASCII.GetBytes(
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

    private static readonly byte[] Connect = Encoding.ASCII.GetBytes(
        "CONNECT www.example.com:443 HTTP/1.1\r\n" +
        "Host: www.example.com:443\r\n" +
        "User-Agent: curl/8.5.0\r\n" +
        "Proxy-Authorization: Basic dXNlci1jb3VudHJ5LXVzOnBhc3N3b3Jk\r\n" +
        "Proxy-Connection: Keep-Alive\r\n" +
        "\r\n");

    private readonly HttpRequestParser _parser = new();
    private readonly RequestHead _head = new();
    private ReadOnlySequence<byte> _get;
    private ReadOnlySequence<byte> _connect;
    private ReadOnlySequence<byte> _getSplit;

    [GlobalSetup]
    public void Setup()
    {
        _get = new ReadOnlySequence<byte>(ProxyGet);
        _connect = new ReadOnlySequence<byte>(Connect);

        // Three segments cut inside the request line and inside a field value, as a socket read
        // boundary would fall; every line that crosses a cut takes the multi-segment path.
        _getSplit = Segment.Chain(ProxyGet, [40, 300]);
    }

    [Benchmark(Baseline = true)]
    public int FindEndOfHead() => ProxyGet.AsSpan().IndexOf("\r\n\r\n"u8);

    [Benchmark]
    public int ParseAbsoluteFormGet() => Parse(_get);

    [Benchmark]
    public int ParseConnect() => Parse(_connect);

    [Benchmark]
    public int ParseAbsoluteFormGetThreeSegments() => Parse(_getSplit);

    private int Parse(ReadOnlySequence<byte> input)
    {
        _parser.Reset();
        var reader = new SequenceReader<byte>(input);
        return _parser.ParseHead(ref reader, _head) == ParseStatus.Complete ? _head.HeaderCount : -1;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }

        public static ReadOnlySequence<byte> Chain(byte[] bytes, int[] cuts)
        {
            Segment? first = null;
            Segment? last = null;
            int start = 0;
            foreach (int end in cuts.Append(bytes.Length))
            {
                last = new Segment(bytes.AsMemory(start, end - start), last);
                first ??= last;
                start = end;
            }

            return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
        }
    }
}
