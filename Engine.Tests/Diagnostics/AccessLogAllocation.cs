using System.Net;
using Engine.Diagnostics;

namespace Engine.Tests.Diagnostics;

/// <summary>Bytes one <see cref="AccessLog.Write"/> allocates on the request's thread, JSON format, after warm-up.</summary>
internal static class AccessLogAllocation
{
    private const int Writes = 2_000;

    private static readonly IPEndPoint s_client = new(IPAddress.Parse("10.1.2.3"), 40000);

    public static long MeasureBytesPerWrite()
    {
        // A sink that costs nothing, so the background writer keeps up and nothing is dropped.
        var log = new AccessLog(Stream.Null, AccessLogFormat.Json);
        try
        {
            Span<byte> id = stackalloc byte[16];
            "00ab12cd34ef5678"u8.CopyTo(id);
            for (int i = 0; i < Writes; i++)
            {
                log.Write(Entry(id));
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Writes; i++)
            {
                log.Write(Entry(id));
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            return allocated / Writes;
        }
        finally
        {
            log.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static AccessLogEntry Entry(ReadOnlySpan<byte> id) => new()
    {
        Time = new DateTimeOffset(2026, 11, 23, 1, 2, 3, 456, TimeSpan.Zero),
        CorrelationId = id,
        Client = s_client,
        PackageId = "demo",
        Method = "CONNECT"u8,
        Target = "example.com:443"u8,
        NodeId = "local",
        Status = 200,
        Code = "UPSTREAM_RESET",
        BytesIn = 1234,
        BytesOut = 98765,
        Duration = TimeSpan.FromMilliseconds(1500),
        Termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Data),
        Attempts = 2,
        UpstreamStatus = 503,
        UpstreamError = "ERR_DNS_FAIL"u8,
        UpstreamSource = "X-Squid-Error"u8,
    };
}
