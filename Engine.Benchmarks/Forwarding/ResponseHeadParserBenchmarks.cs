using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Engine.Forwarding;

namespace Engine.Benchmarks.Forwarding;

/// <summary>
/// A typical 404-byte origin response head (nginx-style, chunked, a few cookies and caching fields),
/// parsed into a reused <see cref="ResponseHead"/>: whole, in the 3 segments a slow socket gives,
/// and then re-emitted for the client. The relay of the chunked body is measured alongside.
/// </summary>
[MemoryDiagnoser]
public class ResponseHeadParserBenchmarks
{
    private const string Head =
        "HTTP/1.1 200 OK\r\n"
        + "Server: nginx/1.27.2\r\n"
        + "Date: Tue, 14 Jan 2025 10:21:07 GMT\r\n"
        + "Content-Type: text/html; charset=utf-8\r\n"
        + "Transfer-Encoding: chunked\r\n"
        + "Connection: keep-alive\r\n"
        + "Vary: Accept-Encoding\r\n"
        + "Set-Cookie: sid=3f9a8c2e7b1d4f60; Path=/; HttpOnly; Secure; SameSite=Lax\r\n"
        + "Cache-Control: private, no-cache, no-store, must-revalidate\r\n"
        + "Content-Encoding: gzip\r\n"
        + "X-Request-Id: 0c1b2a39-8f7e-4d6c-b5a4-938271605f4e\r\n"
        + "\r\n";

    private readonly ResponseHead _head = new();
    private readonly ResponseHeadParser _parser = ResponseHeadParser.Default;
    private readonly ChunkedFramingScanner _scanner = new();
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private ReadOnlySequence<byte> _whole;
    private ReadOnlySequence<byte> _segmented;
    private byte[] _chunkedBody = [];

    [GlobalSetup]
    public void Setup()
    {
        byte[] bytes = Encoding.ASCII.GetBytes(Head);
        _whole = new ReadOnlySequence<byte>(bytes);
        _segmented = Segment.Sequence(bytes.AsMemory(0, 100), bytes.AsMemory(100, 150), bytes.AsMemory(250));
        if (Parse(_whole) != ResponseParseStatus.Complete || Parse(_segmented) != ResponseParseStatus.Complete)
        {
            throw new InvalidOperationException("the benchmark head does not parse");
        }

        var body = new StringBuilder();
        for (int i = 0; i < 16; i++)
        {
            body.Append("1000\r\n").Append('x', 4096).Append("\r\n");
        }

        _chunkedBody = Encoding.ASCII.GetBytes(body.Append("0\r\n\r\n").ToString());
    }

    [Benchmark(Baseline = true)]
    public int ParseWhole() => (int)Parse(_whole);

    [Benchmark]
    public int ParseThreeSegments() => (int)Parse(_segmented);

    [Benchmark]
    public int ParseAndWriteForwardedHead()
    {
        Parse(_whole);
        _output.ResetWrittenCount();
        ForwardedResponseWriter.WriteHead(_output, _head, "gw"u8, "www.example.com"u8, default);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int ScanChunkedBody64KiB()
    {
        _scanner.Reset();
        return (int)_scanner.Scan(_chunkedBody, out _);
    }

    private ResponseParseStatus Parse(ReadOnlySequence<byte> input)
    {
        _head.Reset();
        var reader = new SequenceReader<byte>(input);
        return _parser.Parse(ref reader, _head, RequestMethodKind.Other);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Sequence(params ReadOnlyMemory<byte>[] parts)
        {
            var first = new Segment(parts[0], 0);
            Segment last = first;
            for (int i = 1; i < parts.Length; i++)
            {
                var next = new Segment(parts[i], last.RunningIndex + last.Memory.Length);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
