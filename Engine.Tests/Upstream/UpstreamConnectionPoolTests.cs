using System.Collections.Concurrent;
using System.Net.Sockets;
using Engine.Transport;
using Engine.Upstream;
using Engine.Tests.Fixtures;
using Engine.Tests.Tunnel;

namespace Engine.Tests.Upstream;

public sealed class UpstreamConnectionPoolTests : IDisposable
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);
    private readonly List<SocketPair> _pairs = [];
    private readonly ManualTimeProvider _time = new();

    private async Task<SocketPair> PairAsync()
    {
        SocketPair pair = await SocketPair.CreateAsync();
        _pairs.Add(pair);
        return pair;
    }

    private UpstreamConnectionPool Pool(int perKey = 4, int total = 16) => new(perKey, total, IdleTimeout, _time);

    private static bool IsDisposed(Socket socket) => socket.SafeHandle.IsClosed;

    public void Dispose()
    {
        foreach (SocketPair pair in _pairs)
        {
            pair.Dispose();
        }
    }

    [Fact]
    public async Task Rent_OnALoop_TakesOnlySocketsOfThatLoop()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair older = await PairAsync();
        SocketPair newer = await PairAsync();
        TcpSocket mine = TcpSocket.Adopt(older.A);
        TcpSocket theirs = TcpSocket.Adopt(newer.A);

        // A connection's events run on its client's loop, one at a time: a socket of another loop
        // would run the answer's continuation there, beside the connection's own.
        (TcpSocket? first, TcpSocket? second) = await OnLoop.RunAsync(() =>
        {
            EpollLoop here = EpollLoop.Current!;
            mine.JoinLoop(here);
            theirs.JoinLoop(OnLoop.Another(here));
            Assert.True(pool.Return(1, "example.com"u8, 80, mine));
            Assert.True(pool.Return(1, "example.com"u8, 80, theirs));
            return (pool.Rent(1, "example.com"u8, 80), pool.Rent(1, "example.com"u8, 80));
        });

        Assert.Same(mine, first);
        Assert.Null(second);
        Assert.Same(theirs, pool.Rent(1, "example.com"u8, 80));   // off the loops: the newest, whichever loop
        Assert.Equal(0, pool.GetCounts().Idle);
    }

    [Fact]
    public void Rent_Empty_ReturnsNullAndCountsMiss()
    {
        using UpstreamConnectionPool pool = Pool();

        Assert.Null(pool.Rent(1, "example.com"u8, 80));
        Assert.Equal(1, pool.GetCounts().Misses);
    }

    [Fact]
    public async Task Rent_AfterReturn_GivesTheSocketForTheSameKeyOnly()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair pair = await PairAsync();

        Assert.True(pool.Return(1, "Example.COM"u8, 80, TcpSocket.Adopt(pair.A)));
        Assert.Null(pool.Rent(2, "example.com"u8, 80));
        Assert.Null(pool.Rent(1, "example.com"u8, 81));
        Assert.Null(pool.Rent(1, "example.org"u8, 80));
        Assert.Same(TcpSocket.Adopt(pair.A), pool.Rent(1, "EXAMPLE.com"u8, 80));
        Assert.Null(pool.Rent(1, "example.com"u8, 80));

        UpstreamPoolCounts counts = pool.GetCounts();
        Assert.Equal(1, counts.Hits);
        Assert.Equal(4, counts.Misses);
        Assert.Equal(0, counts.Idle);
    }

    [Fact]
    public async Task Rent_SeveralIdle_GivesTheNewestFirst()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair older = await PairAsync(), newer = await PairAsync();
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(older.A));
        _time.Advance(TimeSpan.FromSeconds(1));
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(newer.A));

        Assert.Same(TcpSocket.Adopt(newer.A), pool.Rent(1, "h"u8, 80));
        Assert.Same(TcpSocket.Adopt(older.A), pool.Rent(1, "h"u8, 80));
    }

    [Fact]
    public async Task Return_OverPerKeyLimit_DisposesTheSocket()
    {
        using UpstreamConnectionPool pool = Pool(perKey: 2);
        SocketPair a = await PairAsync(), b = await PairAsync(), c = await PairAsync(), d = await PairAsync();

        Assert.True(pool.Return(1, "h"u8, 80, TcpSocket.Adopt(a.A)));
        Assert.True(pool.Return(1, "h"u8, 80, TcpSocket.Adopt(b.A)));
        Assert.False(pool.Return(1, "h"u8, 80, TcpSocket.Adopt(c.A)));
        Assert.True(IsDisposed(c.A));
        Assert.True(pool.Return(1, "other"u8, 80, TcpSocket.Adopt(d.A)));
        Assert.Equal(3, pool.IdleCount);
        Assert.Equal(1, pool.GetCounts().Rejected);
    }

    [Fact]
    public async Task Return_OverTotalLimit_DisposesTheSocket()
    {
        using UpstreamConnectionPool pool = Pool(perKey: 4, total: 2);
        SocketPair a = await PairAsync(), b = await PairAsync(), c = await PairAsync();

        Assert.True(pool.Return(1, "a"u8, 80, TcpSocket.Adopt(a.A)));
        Assert.True(pool.Return(1, "b"u8, 80, TcpSocket.Adopt(b.A)));
        Assert.False(pool.Return(1, "c"u8, 80, TcpSocket.Adopt(c.A)));
        Assert.True(IsDisposed(c.A));
        Assert.False(IsDisposed(a.A));
    }

    [Fact]
    public async Task Return_KeyTableFull_DropsEmptyKeysToMakeRoom()
    {
        using UpstreamConnectionPool pool = Pool(perKey: 4, total: 2);
        SocketPair a = await PairAsync(), b = await PairAsync(), c = await PairAsync();
        pool.Return(1, "a"u8, 80, TcpSocket.Adopt(a.A));
        Assert.Same(TcpSocket.Adopt(a.A), pool.Rent(1, "a"u8, 80));   // "a" is now an empty key
        pool.Return(1, "b"u8, 80, TcpSocket.Adopt(b.A));

        Assert.True(pool.Return(1, "c"u8, 80, TcpSocket.Adopt(c.A)));
        Assert.Equal(2, pool.GetCounts().Keys);
    }

    [Fact]
    public void Return_UnconnectedSocket_IsDisposed()
    {
        using UpstreamConnectionPool pool = Pool();
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.False(pool.Return(1, "h"u8, 80, TcpSocket.Adopt(socket)));
        Assert.True(IsDisposed(socket));
    }

    [Fact]
    public async Task Rent_AfterIdleTimeout_DisposesExpiredAndMisses()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair old = await PairAsync(), fresh = await PairAsync();
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(old.A));
        _time.Advance(TimeSpan.FromSeconds(4));
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(fresh.A));
        _time.Advance(TimeSpan.FromSeconds(6));   // old: 10 s idle, fresh: 6 s

        Assert.Same(TcpSocket.Adopt(fresh.A), pool.Rent(1, "h"u8, 80));
        Assert.True(IsDisposed(old.A));
        Assert.Equal(1, pool.GetCounts().Expired);
    }

    [Fact]
    public async Task PeriodicSweep_DisposesExpiredSocketsAndForgetsUnusedKeys()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair a = await PairAsync(), b = await PairAsync();
        pool.Return(1, "a"u8, 80, TcpSocket.Adopt(a.A));
        pool.Return(1, "b"u8, 443, TcpSocket.Adopt(b.A));
        Assert.Equal(2, pool.GetCounts().Keys);

        _time.Advance(TimeSpan.FromSeconds(5));   // first sweep at timeout/2: nothing is old enough yet
        Assert.Equal(2, pool.IdleCount);

        _time.Advance(TimeSpan.FromSeconds(5));
        UpstreamPoolCounts counts = pool.GetCounts();
        Assert.Equal(0, counts.Idle);
        Assert.Equal(0, counts.Keys);
        Assert.Equal(2, counts.Expired);
        Assert.True(IsDisposed(a.A) && IsDisposed(b.A));
    }

    [Fact]
    public async Task Rent_PeerClosed_DisposesTheStaleSocketAndTriesTheNext()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair alive = await PairAsync(), closed = await PairAsync();
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(alive.A));
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(closed.A));   // newest: tried first
        closed.B.Dispose();                     // the server's FIN
        Assert.True(await WaitReadableAsync(closed.A));

        Assert.Same(TcpSocket.Adopt(alive.A), pool.Rent(1, "h"u8, 80));
        Assert.True(IsDisposed(closed.A));
        Assert.Equal(1, pool.GetCounts().Stale);
    }

    [Fact]
    public async Task Rent_RetryableRequestAndJustReturned_SkipsTheCheck_OthersStillCheck()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair first = await PairAsync(), second = await PairAsync();
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(first.A));
        first.B.Dispose();
        Assert.True(await WaitReadableAsync(first.A));

        // Back for less than FreshWithoutCheck and the request can go again on a fresh connection:
        // handed out unchecked (no poll); the exchange's one retry covers the dead socket.
        Assert.Same(TcpSocket.Adopt(first.A), pool.Rent(1, "h"u8, 80, canRetry: true));

        // The same dead socket for a request that cannot be retried: checked, discarded.
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(first.A));
        Assert.Null(pool.Rent(1, "h"u8, 80, canRetry: false));
        Assert.True(IsDisposed(first.A));

        // A retryable request, but the connection idled past FreshWithoutCheck: checked again.
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(second.A));
        second.B.Dispose();
        Assert.True(await WaitReadableAsync(second.A));
        _time.Advance(UpstreamConnectionPool.FreshWithoutCheck);
        Assert.Null(pool.Rent(1, "h"u8, 80, canRetry: true));
        Assert.True(IsDisposed(second.A));
    }

    [Fact]
    public async Task Rent_RetryableAndJustReturned_ButTheLoopSawTheServersFin_IsNotHandedOut()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair pair = await PairAsync();

        // An exchange read its response through the engine's loop, so the loop watches the socket.
        ValueTask<int> read = TcpSocket.Adopt(pair.A).ReceiveAsync(new byte[16]);
        pair.B.Send("HTTP/1.1 204 No Content\r\n\r\n"u8);
        Assert.True(await read > 0);
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(pair.A));

        // The server closes the idle keep-alive connection; the loop marks it without any syscall.
        pair.B.Shutdown(SocketShutdown.Send);
        var seen = System.Diagnostics.Stopwatch.StartNew();
        while (TcpSocket.Adopt(pair.A).IsOpen)
        {
            Assert.True(seen.Elapsed < TimeSpan.FromSeconds(10), "the loop never saw the FIN");
            await Task.Delay(5);
        }

        // Fresh and retryable would skip the poll, but the FIN is already known: discarded, not rented.
        Assert.Null(pool.Rent(1, "h"u8, 80, canRetry: true));
        Assert.True(IsDisposed(pair.A));
    }

    [Fact]
    public async Task Rent_PeerSentUnsolicitedBytes_IsStale()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair pair = await PairAsync();
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(pair.A));
        await pair.B.SendAsync("HTTP/1.1 408 Request Timeout\r\n\r\n"u8.ToArray(), SocketFlags.None);
        Assert.True(await WaitReadableAsync(pair.A));

        Assert.Null(pool.Rent(1, "h"u8, 80));
        Assert.True(IsDisposed(pair.A));
    }

    [Fact]
    public async Task Dispose_DisposesIdleSocketsAndRefusesMore()
    {
        UpstreamConnectionPool pool = Pool();
        SocketPair a = await PairAsync(), b = await PairAsync();
        pool.Return(1, "h"u8, 80, TcpSocket.Adopt(a.A));

        pool.Dispose();

        Assert.True(IsDisposed(a.A));
        Assert.Null(pool.Rent(1, "h"u8, 80));
        Assert.False(pool.Return(1, "h"u8, 80, TcpSocket.Adopt(b.A)));
        Assert.True(IsDisposed(b.A));
    }

    [Fact]
    public async Task RentAndReturn_SteadyState_AllocatesNothing()
    {
        using UpstreamConnectionPool pool = Pool();
        SocketPair pair = await PairAsync();
        pool.Return(7, "www.example.com"u8, 443, TcpSocket.Adopt(pair.A));

        void Cycle()
        {
            TcpSocket socket = pool.Rent(7, "WWW.example.com"u8, 443) ?? throw new InvalidOperationException("miss");
            pool.Return(7, "www.example.com"u8, 443, socket);
        }

        Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            Cycle();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task RentAndReturn_Concurrently_NeverHandsOneSocketToTwoRenters()
    {
        using UpstreamConnectionPool pool = Pool(perKey: 8, total: 16);
        var sockets = new List<Socket>();
        for (int i = 0; i < 8; i++)
        {
            Socket socket = (await PairAsync()).A;
            sockets.Add(socket);
            pool.Return(i % 2, "h"u8, 80, TcpSocket.Adopt(socket));
        }

        var inUse = new ConcurrentDictionary<TcpSocket, bool>();
        int conflicts = 0;
        Task[] workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < 500; i++)
            {
                int egress = (w + i) % 2;
                TcpSocket? socket = pool.Rent(egress, "h"u8, 80);
                if (socket is null)
                {
                    continue;
                }

                if (!inUse.TryAdd(socket, true))
                {
                    Interlocked.Increment(ref conflicts);
                }

                inUse.TryRemove(socket, out _);
                pool.Return(egress, "h"u8, 80, socket);
            }
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, conflicts);
        UpstreamPoolCounts counts = pool.GetCounts();
        Assert.Equal(8, counts.Idle);
        Assert.Equal(0, counts.Stale + counts.Rejected + counts.Expired);
        Assert.All(sockets, s => Assert.False(IsDisposed(s)));
    }

    private static async Task<bool> WaitReadableAsync(Socket socket)
    {
        // Bounded: FIN or data over loopback arrives in microseconds.
        for (int i = 0; i < 200; i++)
        {
            if (socket.Poll(0, SelectMode.SelectRead))
            {
                return true;
            }

            await Task.Delay(10);
        }

        return false;
    }
}
