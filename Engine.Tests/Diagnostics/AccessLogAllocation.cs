using System.Net;
using Engine.Diagnostics;

namespace Engine.Tests.Diagnostics;

/// <summary>Bytes one <see cref="AccessLog.Write"/> allocates on the request's thread, JSON format, after warm-up.</summary>
internal static class AccessLogAllocation
{
    private const int Writes = 2_000;

    // Lines written back to back before the measurer lets the drain catch up: ~12 KB, inside one of the
    // pipe's 16 KiB segments. Written faster than the sink takes them (a starved drain thread on a loaded
    // box), lines pile up in new segments: that is the bounded backlog (MaxBacklogBytes), not the steady
    // state, and the first measurer, 2,000 lines in one burst, saw 0 to 297 KB depending on the load.
    private const int Burst = 40;

    private static readonly IPEndPoint s_client = new(IPAddress.Parse("10.1.2.3"), 40000);

    public static AllocationMeasurement MeasureWrites()
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

            WaitForDrain(log);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < Writes; i++)
            {
                log.Write(Entry(id));
                if (i % Burst == Burst - 1)
                {
                    WaitForDrain(log);
                }
            }

            return new AllocationMeasurement(GC.GetAllocatedBytesForCurrentThread() - before, Writes, 0, "write");
        }
        finally
        {
            log.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Spins (allocating nothing on this thread) until the background writer has taken every line.</summary>
    private static void WaitForDrain(AccessLog log)
    {
        var spin = default(SpinWait);
        long deadline = Environment.TickCount64 + 10_000;
        while (log.Backlog > 0)
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException("the access log's writer did not drain 40 lines within 10 s");
            }

            spin.SpinOnce();
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
