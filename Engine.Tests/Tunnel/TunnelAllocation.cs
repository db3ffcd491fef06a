using System.Net.Sockets;
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
    public static long MeasureBytesPerMebibyte() => MeasureAsync().GetAwaiter().GetResult();

    private static async Task<long> MeasureAsync()
    {
        using SocketPair clientLink = await SocketPair.CreateAsync();
        using SocketPair targetLink = await SocketPair.CreateAsync();
        await using var transport = new SocketConnection(clientLink.B, SocketListener.InputOptions, SocketListener.OutputOptions);
        transport.Start();
        using var relay = new TunnelRelay(transport.Input, transport.Output, targetLink.A, TimeSpan.FromMinutes(1), CancellationToken.None);
        Task<TunnelResult> running = relay.RunAsync();

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
        long before = GC.GetTotalAllocatedBytes(precise: true);
        await Task.WhenAll(PumpAsync(clientLink.A, targetLink.B, Short), PumpAsync(targetLink.B, clientLink.A, Short));
        long shortRun = GC.GetTotalAllocatedBytes(precise: true) - before;
        before = GC.GetTotalAllocatedBytes(precise: true);
        await Task.WhenAll(PumpAsync(clientLink.A, targetLink.B, Long), PumpAsync(targetLink.B, clientLink.A, Long));
        long longRun = GC.GetTotalAllocatedBytes(precise: true) - before;

        clientLink.A.Shutdown(SocketShutdown.Send);
        targetLink.B.Shutdown(SocketShutdown.Send);
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        return Math.Max(0, longRun - shortRun) / (2 * ((Long - Short) >> 20));
    }
}
