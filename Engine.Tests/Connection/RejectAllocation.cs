using System.Buffers.Text;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Connection;

/// <summary>
/// Allocation-budget measurer for a whole refused request: keep-alive absolute-URI GETs without credentials
/// from several clients at once, each answered 407 ERR_AUTH_REQUIRED on the same connection (transport,
/// parser, authentication, error writer, flush, access log to <see cref="Stream.Null"/>). Process-wide, as the
/// difference between a short and a long run per extra request, like <see cref="ForwardAllocation"/>.
/// </summary>
internal static class RejectAllocation
{
    private const int Clients = 8;

    public static Engine.Tests.Diagnostics.AllocationMeasurement MeasureRequests() => MeasureAsync().GetAwaiter().GetResult();

    private static async Task<Engine.Tests.Diagnostics.AllocationMeasurement> MeasureAsync()
    {
        await using var proxy = new ProxyFixture(o => o.AccessLogSink = Stream.Null);
        byte[] request = "GET http://127.0.0.1:9/small HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"u8.ToArray();

        var clients = new Socket[Clients];
        var buffers = new byte[Clients][];
        for (int i = 0; i < Clients; i++)
        {
            clients[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await clients[i].ConnectAsync(proxy.EndPoint);
            buffers[i] = new byte[16 * 1024];
        }

        async Task RunAsync(int requestsPerClient)
        {
            var loops = new Task[Clients];
            for (int i = 0; i < Clients; i++)
            {
                loops[i] = KeepAliveClient.RunAsync(clients[i], request, buffers[i], requestsPerClient, CompleteChallenge);
            }

            await Task.WhenAll(loops);
        }

        try
        {
            const int Warm = 2000, Short = 500, Long = 4500;
            await RunAsync(Warm);
            await Engine.Tests.Diagnostics.AllocationMeasurement.WarmUntilJitQuietAsync(() => RunAsync(Short));
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            long before = GC.GetTotalAllocatedBytes(precise: true);
            await RunAsync(Short);
            long shortRun = GC.GetTotalAllocatedBytes(precise: true) - before;
            TimeSpan shortTime = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            started = System.Diagnostics.Stopwatch.GetTimestamp();
            before = GC.GetTotalAllocatedBytes(precise: true);
            await RunAsync(Long);
            long longRun = GC.GetTotalAllocatedBytes(precise: true) - before;
            TimeSpan extraTime = System.Diagnostics.Stopwatch.GetElapsedTime(started) - shortTime;

            // As ForwardAllocation: the process's idle allocation over the extra time, plus the same loop allowance.
            long idle = await Engine.Tests.Diagnostics.AllocationMeasurement.MeasureIdleAsync(extraTime);
            return new(longRun - shortRun, (long)(Long - Short) * Clients, idle + ForwardAllocation.LoopAllowance, "request");
        }
        finally
        {
            foreach (Socket client in clients)
            {
                client.Dispose();
            }
        }
    }

    private static bool CompleteChallenge(ReadOnlySpan<byte> received)
    {
        int headEnd = received.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> head = received[..headEnd];
        if (!head.StartsWith("HTTP/1.1 407 "u8) || head.IndexOf("\r\nConnection: keep-alive"u8) < 0)
        {
            throw new IOException("unexpected answer: " + Encoding.ASCII.GetString(head));
        }

        int at = head.IndexOf("\r\nContent-Length: "u8) + "\r\nContent-Length: ".Length;
        if (!Utf8Parser.TryParse(head[at..], out int length, out _))
        {
            throw new IOException("a 407 without Content-Length");
        }

        return received.Length - (headEnd + 4) >= length;
    }
}
