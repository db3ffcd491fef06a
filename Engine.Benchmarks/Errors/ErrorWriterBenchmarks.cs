using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Engine.Errors;

namespace Engine.Benchmarks.Errors;

/// <summary>
/// One error response per operation, correlation id included, into a reused buffer writer. The baseline copies
/// an already-rendered 407 of the same size: the floor for any writer that has to put those bytes in the output.
/// </summary>
[MemoryDiagnoser]
public class ErrorWriterBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);
    private ErrorWriter _writer = null!;
    private byte[] _prerendered407 = null!;
    private byte[] _hostileDetail = null!;
    private byte[] _hostileTarget = null!;
    private byte[] _longTarget = null!;

    private static ReadOnlySpan<byte> Connect => "CONNECT"u8;

    private static ReadOnlySpan<byte> Get => "GET"u8;

    private static ReadOnlySpan<byte> ConnectTarget => "www.example.com:443"u8;

    private static ReadOnlySpan<byte> Filters => "country=us, city=los_angeles, network=mob"u8;

    [GlobalSetup]
    public void Setup()
    {
        _writer = new ErrorWriter(new ErrorWriterOptions());
        _prerendered407 = Render(new ErrorResponse(ErrorCode.ErrAuthRequired) { Method = Connect, Target = ConnectTarget, CorrelationId = CorrelationId.Next(), KeepAlive = true });
        _hostileDetail = [.. "Invalid header \"X-Foo\\\": value \r\n\0\u0001 with caf\u00e9 and "u8, 0xFF, 0xFE, .. "\ttabs"u8];
        _hostileTarget = Encoding.UTF8.GetBytes("http://example.com/search?q=\"<script>\"\\&lang=\u65e5\u672c");
        _longTarget = Encoding.ASCII.GetBytes("http://example.com/" + new string('a', 8 * 1024));
    }

    [Benchmark(Baseline = true, Description = "copy of a pre-rendered 407")]
    public int CopyPrerendered()
    {
        _output.ResetWrittenCount();
        _output.Write(_prerendered407);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "407 ERR_AUTH_REQUIRED (CONNECT)")]
    public int AuthRequired407()
    {
        _output.ResetWrittenCount();
        return _writer.Write(_output, new ErrorResponse(ErrorCode.ErrAuthRequired)
        {
            Method = Connect,
            Target = ConnectTarget,
            CorrelationId = CorrelationId.Next(),
            KeepAlive = true,
        });
    }

    [Benchmark(Description = "429 RATE_LIMIT_EXCEEDED + Retry-After, limitedBy")]
    public int RateLimit429()
    {
        _output.ResetWrittenCount();
        return _writer.Write(_output, new ErrorResponse(ErrorCode.RateLimitExceeded)
        {
            Detail = "Package limit of 200 requests per second reached"u8,
            Method = Get,
            Target = "http://example.com/products?page=2"u8,
            CorrelationId = CorrelationId.Next(),
            RetryAfterSeconds = 1,
            LimitedBy = LimitedBy.Rps,
            KeepAlive = true,
        });
    }

    [Benchmark(Description = "502 NODE_NOT_FOUND + filters")]
    public int NodeNotFound502()
    {
        _output.ResetWrittenCount();
        return _writer.Write(_output, new ErrorResponse(ErrorCode.NodeNotFound)
        {
            Detail = "No nodes matching country=us, city=los_angeles, network=mob"u8,
            Method = Connect,
            Target = ConnectTarget,
            CorrelationId = CorrelationId.Next(),
            Filters = Filters,
            KeepAlive = true,
        });
    }

    [Benchmark(Description = "400 BAD_REQUEST, hostile detail + target")]
    public int HostileDetail400()
    {
        _output.ResetWrittenCount();
        return _writer.Write(_output, new ErrorResponse(ErrorCode.BadRequest)
        {
            Detail = _hostileDetail,
            Method = Get,
            Target = _hostileTarget,
            CorrelationId = CorrelationId.Next(),
        });
    }

    [Benchmark(Description = "414 URI_TOO_LONG, 8 KB target truncated")]
    public int UriTooLong414()
    {
        _output.ResetWrittenCount();
        return _writer.Write(_output, new ErrorResponse(ErrorCode.UriTooLong)
        {
            Method = Get,
            Target = _longTarget,
            CorrelationId = CorrelationId.Next(),
        });
    }

    private byte[] Render(in ErrorResponse response)
    {
        var buffer = new ArrayBufferWriter<byte>();
        _writer.Write(buffer, response);
        return buffer.WrittenSpan.ToArray();
    }
}
