using System.Net;
using BenchmarkDotNet.Attributes;
using Engine.Diagnostics;

namespace Engine.Benchmarks.Diagnostics;

/// <summary>
/// One access-log line per request, in both formats, into a sink that discards: the cost the data
/// path pays per request (formatting into a pooled buffer and queueing it; the disk write happens on
/// the log's own writer). Baseline: the logfmt line.
/// </summary>
[MemoryDiagnoser]
public class AccessLogBenchmarks
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("203.0.113.7"), 51234);
    private static readonly byte[] CorrelationId = "5a7ns4ek0000015nm7"u8.ToArray();
    private static readonly byte[] Method = "GET"u8.ToArray();
    private static readonly byte[] Target = "http://example.com/products/12345?page=2&sort=price"u8.ToArray();
    private AccessLog _logfmt = null!;
    private AccessLog _json = null!;

    [GlobalSetup]
    public void Setup()
    {
        _logfmt = new AccessLog(Stream.Null, AccessLogFormat.Logfmt);
        _json = new AccessLog(Stream.Null, AccessLogFormat.Json);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _logfmt.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _json.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public void Logfmt() => _logfmt.Write(Entry());

    [Benchmark]
    public void Json() => _json.Write(Entry());

    private static AccessLogEntry Entry() => new()
    {
        Time = new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero),
        CorrelationId = CorrelationId,
        Client = Client,
        PackageId = "demo",
        Method = Method,
        Target = Target,
        NodeId = "res-us-17",
        Status = 200,
        BytesIn = 412,
        BytesOut = 18_442,
        Duration = TimeSpan.FromMilliseconds(38.2),
        Termination = TerminationState.Normal,
        Attempts = 1,
    };
}
