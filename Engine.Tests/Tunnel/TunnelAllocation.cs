using System.Net.Sockets;
using System.Net;
using Engine.Transport;
using Engine.Tunnel;

namespace Engine.Tests.Tunnel;

/// <summary>
/// Allocation-budget measurer for a steady-state tunnel: the real transport (SocketConnection) on
/// the client side, the relay, and a target socket, relaying in both directions after warm-up.
/// The relay runs on pool threads, so the whole process is measured (precise total); the test's
/// own socket loops use the ValueTask overloads (the byte[] ones return a new Task per call).
/// </summary>
internal static class TunnelAllocation
{
    /// <summary>
    /// On top of the process's idle allocation over the extra time and the budget (64 B per MiB, 8 KiB over
    /// the 128 extra MiB): the jitter of four pump loops on a 2-core box at a load average of 20, -98 KB to
    /// +97 KB over six runs (thread-pool growth under starvation lands in either run). A regression of one
    /// object per relay read (16 reads per MiB, 24 B each: 48 KiB) sits inside it; one per KiB relayed
    /// (3 MiB) does not. Run Engine.Benchmarks on a quiet machine for the finer figure.
    /// </summary>
    public const long LoopAllowance = 128 * 1024;

    public static Engine.Tests.Diagnostics.AllocationMeasurement MeasureMebibytes() => MeasureAsync().GetAwaiter().GetResult();

    private static async Task<Engine.Tests.Diagnostics.AllocationMeasurement> MeasureAsync()
    {
        using SocketPair clientLink = await SocketPair.CreateAsync();
        using SocketPair targetLink = await SocketPair.CreateAsync();
        await using var transport = new SocketConnection(TcpSocket.Adopt(clientLink.B), (IPEndPoint)clientLink.B.RemoteEndPoint!);
        using var relay = new TunnelRelay(transport.Input, transport.Output, TcpSocket.Adopt(targetLink.A), TimeSpan.FromMinutes(1), CancellationToken.None);
        Task<TunnelResult> running = relay.RunAsync().AsTask();

        byte[] chunk = new byte[64 * 1024];
        byte[] sink = new byte[64 * 1024];
        async Task PumpAsync(Socket from, Socket to, long bytes)
        {
            Task receive = Task.Run(async () =>
            {
                for (long got = 0; got < bytes;)
                {
                    got += await to.ReceiveAsync(sink.AsMemory(), SocketFlags.None);
                }
            });
            for (long sent = 0; sent < bytes;)
            {
                sent += await from.SendAsync(chunk.AsMemory(), SocketFlags.None);
            }

            await receive;
        }

        // Marginal cost: the difference between a short and a long run, per extra MiB, so the
        // fixed cost of the measuring loops themselves (their tasks, the first sends) cancels out
        // and what remains is what the relay allocates per byte.
        const long Warm = 16L << 20, Short = 16L << 20, Long = 80L << 20;
        await Task.WhenAll(PumpAsync(clientLink.A, targetLink.B, Warm), PumpAsync(targetLink.B, clientLink.A, Warm));
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await Task.WhenAll(PumpAsync(clientLink.A, targetLink.B, Short), PumpAsync(targetLink.B, clientLink.A, Short));
        long shortRun = GC.GetTotalAllocatedBytes(precise: true) - before;
        TimeSpan shortTime = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        started = System.Diagnostics.Stopwatch.GetTimestamp();
        before = GC.GetTotalAllocatedBytes(precise: true);
        await Task.WhenAll(PumpAsync(clientLink.A, targetLink.B, Long), PumpAsync(targetLink.B, clientLink.A, Long));
        long longRun = GC.GetTotalAllocatedBytes(precise: true) - before;
        long idle = await Engine.Tests.Diagnostics.AllocationMeasurement.MeasureIdleAsync(System.Diagnostics.Stopwatch.GetElapsedTime(started) - shortTime);

        clientLink.A.Shutdown(SocketShutdown.Send);
        targetLink.B.Shutdown(SocketShutdown.Send);
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        return new(longRun - shortRun, 2 * ((Long - Short) >> 20), idle + LoopAllowance, "MiB");
    }
}
