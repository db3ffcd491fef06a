using System.Diagnostics;
using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Transport;

public class LoopLagTests
{
    // How long the test holds a loop: far above a running loop's lag, far below any timeout.
    private static readonly TimeSpan HeldLong = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void AProbeReached_ReportsItsDelay_UntilANewerOneIsReached()
    {
        var lag = new LoopLag();
        Assert.Equal(0, lag.Behind(1_000));

        Assert.True(lag.TrySend(1_000));
        lag.Reached(1_300);
        Assert.Equal(300, lag.Behind(5_000));   // the last delay stands between probes

        Assert.True(lag.TrySend(5_000));
        Assert.Equal(300, lag.Behind(5_010));   // the new probe has waited less than the last took
        lag.Reached(5_020);
        Assert.Equal(20, lag.Behind(6_000));
    }

    [Fact]
    public void AProbeStillWaiting_CountsItsAge_AndOnlyOneIsOut()
    {
        var lag = new LoopLag();
        Assert.True(lag.TrySend(1_000));
        Assert.False(lag.TrySend(1_050));        // one at a time: the first is still queued
        Assert.Equal(4_000, lag.Behind(5_000));  // a loop stuck in one round: the age, growing

        lag.Reached(5_500);
        Assert.Equal(4_500, lag.Behind(5_600));
        Assert.True(lag.TrySend(5_600));
    }

    [Fact]
    public void AProbeNotSent_LeavesNothingWaiting()
    {
        var lag = new LoopLag();
        Assert.True(lag.TrySend(1_000));
        lag.NotSent();
        Assert.Equal(0, lag.Behind(9_000));
        lag.Reached(9_000);   // a stray edge: no probe was out, nothing changes
        Assert.Equal(0, lag.Behind(9_500));
    }

    /// <summary>
    /// The real loops: a receive's continuation runs inline on its loop's thread, so holding it
    /// there holds the loop in its round, and the probe sent meanwhile waits behind it. The lag
    /// grows while the loop is held and falls back once it runs again.
    /// </summary>
    [Fact]
    public async Task EpollLoop_HeldInARound_ItsProbeWaits_AndTheLagFallsBackOnceItRuns()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        using var hold = new LoopHold();

        ValueTask<int> receive = socket.ReceiveAsync(new byte[16], default);
        Assert.False(receive.IsCompleted);
        Task<int> received = hold.HoldWhenDone(receive);
        pair.A.Send("x"u8);
        Assert.True(hold.Held.Wait(TimeSpan.FromSeconds(10)));
        Assert.StartsWith("epoll", hold.Thread);

        // A probe goes to every loop that has none out; the held loop's cannot be reached, so
        // its age is a lower bound of the lag from here on, and it only grows.
        EpollLoop.SampleLag();
        long probed = Stopwatch.GetTimestamp();
        TimeSpan lag = TimeSpan.Zero;
        for (var waited = Stopwatch.StartNew(); lag < HeldLong && waited.Elapsed < TimeSpan.FromSeconds(10);)
        {
            TimeSpan atLeast = Stopwatch.GetElapsedTime(probed);
            lag = EpollLoop.SampleLag();
            Assert.True(lag >= atLeast, $"lag {lag} below the held probe's age {atLeast}");
            await Task.Yield();
        }

        Assert.True(lag >= HeldLong, $"lag {lag} after 10 s held");
        hold.Release.Set();
        Assert.Equal(1, await received.WaitAsync(TimeSpan.FromSeconds(10)));

        // The held probe is reached with a delay of at least HeldLong; the next probe, sent to a
        // loop that runs, comes back faster, and the lag reads below it.
        for (var waited = Stopwatch.StartNew(); lag >= HeldLong && waited.Elapsed < TimeSpan.FromSeconds(10);)
        {
            lag = EpollLoop.SampleLag();
            await Task.Yield();
        }

        Assert.True(lag < HeldLong, $"lag {lag} 10 s after the loop was released");
        socket.Close();
    }

    /// <summary>
    /// Each loop knows its own lag: code running on a held loop reads it as behind, code on
    /// another loop reads its own loop's short lag, code off the loops the longest.
    /// </summary>
    [Fact]
    public async Task CurrentLag_IsTheCallersLoops()
    {
        // A socket stays on the loop it joined. First find one socket on each of two loops while
        // nothing is held (every receive completes), then hold the first one's loop: a socket
        // picked after the hold could join the held loop and never be served until the release.
        var sockets = new List<(SocketPair Pair, TcpSocket Socket, string? Loop)>();
        try
        {
            int wanted = Math.Min(EpollLoop.Count == 0 ? 2 : EpollLoop.Count, 2);
            for (int i = 0; i < 32 && sockets.Select(s => s.Loop).Distinct().Count() < wanted; i++)
            {
                SocketPair candidate = await SocketPair.CreateAsync();
                TcpSocket candidateSocket = TcpSocket.Adopt(candidate.B);
                Task<(string?, TimeSpan)> joined = LagSeenWhenDone(candidateSocket.ReceiveAsync(new byte[16], default));
                candidate.A.Send("w"u8);
                (string? loop, _) = await joined.WaitAsync(TimeSpan.FromSeconds(10));
                Assert.StartsWith("epoll", loop);
                sockets.Add((candidate, candidateSocket, loop));
                wanted = Math.Min(EpollLoop.Count, 2);
            }

            (SocketPair pair, TcpSocket socket, string? heldLoop) = sockets[0];
            using var hold = new LoopHold();
            TimeSpan seenOnHeldLoop = TimeSpan.Zero;
            ValueTask<int> receive = socket.ReceiveAsync(new byte[16], default);
            Task<int> received = hold.HoldWhenDone(receive, () => seenOnHeldLoop = EpollLoop.CurrentLag());
            pair.A.Send("x"u8);
            Assert.True(hold.Held.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal(heldLoop, hold.Thread);

            EpollLoop.SampleLag();
            long probed = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(probed) < HeldLong)
            {
                await Task.Delay(20);
                EpollLoop.SampleLag();
            }

            Assert.True(EpollLoop.CurrentLag() >= HeldLong, $"off the loops: {EpollLoop.CurrentLag()}");
            if (EpollLoop.Count > 1)
            {
                // The socket on the other loop: its continuation runs there and reads that loop's lag.
                (SocketPair otherPair, TcpSocket otherSocket, string? otherLoop) = sockets.First(s => s.Loop != heldLoop);
                Task<(string?, TimeSpan)> seen = LagSeenWhenDone(otherSocket.ReceiveAsync(new byte[16], default));
                otherPair.A.Send("y"u8);
                (string? thread, TimeSpan lag) = await seen.WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(otherLoop, thread);
                Assert.NotEqual(hold.Thread, thread);
                Assert.True(lag < HeldLong, $"the other loop read {lag}");
            }

            hold.Release.Set();
            Assert.Equal(1, await received.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.True(seenOnHeldLoop >= HeldLong, $"the held loop read {seenOnHeldLoop}");
        }
        finally
        {
            foreach ((SocketPair pair, TcpSocket socket, _) in sockets)
            {
                socket.Close();
                pair.Dispose();
            }
        }
    }

    /// <summary>
    /// Probes rung as fast as the loops reach them: each write must raise a new edge. Read back in
    /// the wrong order, a probe rung between the loop's "reached" and its read of the count was
    /// read away with no edge left, and the lag then grew without end (shedding everything).
    /// </summary>
    [Fact]
    public async Task ProbesBackToBack_NoneIsLost()
    {
        EpollLoop.Next();   // the loops run
        for (var sampling = Stopwatch.StartNew(); sampling.Elapsed < TimeSpan.FromSeconds(1);)
        {
            EpollLoop.SampleLag();
        }

        TimeSpan lag = TimeSpan.MaxValue;
        for (var waited = Stopwatch.StartNew(); lag >= HeldLong && waited.Elapsed < TimeSpan.FromSeconds(10);)
        {
            lag = EpollLoop.SampleLag();
            await Task.Yield();
        }

        Assert.True(lag < HeldLong, $"lag {lag}: a probe was never reached");
    }

    /// <summary>The thread a receive's continuation ran on and the lag it read there.</summary>
    private static Task<(string? Thread, TimeSpan Lag)> LagSeenWhenDone(ValueTask<int> receive)
    {
        var seen = new TaskCompletionSource<(string?, TimeSpan)>(TaskCreationOptions.RunContinuationsAsynchronously);
        InlineContinuation.WhenDone(
            receive,
            _ => seen.SetResult((System.Threading.Thread.CurrentThread.Name, EpollLoop.CurrentLag())),
            e => seen.SetException(e));   // aborted by a close: reported to whoever waits, not thrown out of the close
        return seen.Task;
    }

    /// <summary>Holds the loop's thread inside a receive's continuation, which runs inline there, until released.</summary>
    private sealed class LoopHold : IDisposable
    {
        private long _heldAt;

        public ManualResetEventSlim Held { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public string? Thread { get; private set; }

        public long HeldAt => Volatile.Read(ref _heldAt);

        /// <param name="released">Runs on the loop's thread once released, before the loop goes on.</param>
        public Task<int> HoldWhenDone(ValueTask<int> receive, Action? released = null)
        {
            var result = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            InlineContinuation.WhenDone(
                receive,
                received =>
                {
                    Thread = System.Threading.Thread.CurrentThread.Name;
                    Volatile.Write(ref _heldAt, Stopwatch.GetTimestamp());
                    Held.Set();
                    Release.Wait(TimeSpan.FromSeconds(30));
                    released?.Invoke();
                    result.SetResult(received);
                },
                e => result.SetException(e));
            return result.Task;
        }

        public void Dispose()
        {
            Release.Set();
            Held.Dispose();
        }
    }
}
