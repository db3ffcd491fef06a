using System.Net;
using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Transport;

/// <summary>
/// The engine's own sockets on its epoll loop, driven directly (not through the
/// <c>ENGINE_RUNTIME_SOCKETS</c> switch): descriptors it opened itself, and runtime sockets it
/// adopted; the peer side of each pair is a runtime socket.
/// </summary>
public class TcpSocketTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A close from a thread that is not the socket's loop (the shutdown's cut, an idle tunnel swept
    /// by a timer) ends a parked wait on the socket's loop: its waiter's code, a connection made for
    /// one thread, must not go on on the closing thread. Fails with the abort completed inline.
    /// </summary>
    [Fact]
    public async Task Close_OffTheLoops_EndsAParkedReceiveOnTheSocketsLoop()
    {
        Assert.True(EpollLoop.Enabled, "the engine's loop runs on this platform");
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        var ended = new TaskCompletionSource<(EpollLoop? Loop, Exception? Error)>(TaskCreationOptions.RunContinuationsAsynchronously);
        InlineContinuation.WhenDone(socket.ReceiveAsync(new byte[16]), _ => ended.SetResult((EpollLoop.Current, null)), e => ended.SetResult((EpollLoop.Current, e)));
        Assert.False(ended.Task.IsCompleted);   // parked: nothing was sent
        Assert.Null(EpollLoop.Current);
        EpollLoop? home = socket.Loop;
        Assert.NotNull(home);

        socket.Close();   // from the test's thread, off every loop

        (EpollLoop? loop, Exception? error) = await ended.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SocketError.OperationAborted, Assert.IsType<SocketException>(error).SocketErrorCode);
        Assert.True(loop is not null, "the aborted wait went on on the closing thread, off the loops");
        Assert.Same(home, loop);
    }

    [Fact]
    public async Task ReceiveAsync_DataAndFinArriveWhileParked_ReturnsTheDataThenTheEnd()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        var buffer = new byte[64];

        // Parked first, so the bytes and the FIN come in as the loop's edges; the read that takes
        // the bytes comes back short, and only the FIN's sticky mark makes the next one look again.
        ValueTask<int> first = socket.ReceiveAsync(buffer, default);
        Assert.False(first.IsCompleted);
        pair.A.Send("abc"u8);
        pair.A.Shutdown(SocketShutdown.Send);

        int received = await first.AsTask().WaitAsync(Timeout);
        int total = received;
        while (received > 0)
        {
            received = await socket.ReceiveAsync(buffer.AsMemory(total), default).AsTask().WaitAsync(Timeout);
            total += received;
        }

        Assert.Equal("abc", System.Text.Encoding.ASCII.GetString(buffer, 0, total));
        Assert.False(socket.IsOpen);   // a pooled upstream connection with the peer's FIN is not offered again
    }

    [Fact]
    public async Task ReceiveAsync_ZeroByteWaitAfterDrain_EndsWhenDataArrives()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        var buffer = new byte[64];
        pair.A.Send("one"u8);
        Assert.Equal(3, await ReceiveAtLeastAsync(socket, buffer, 3));

        ValueTask<int> wait = socket.ReceiveAsync(Memory<byte>.Empty, default);
        Assert.False(wait.IsCompleted);   // drained: waits for the edge, no buffer held
        pair.A.Send("two"u8);
        Assert.Equal(0, await wait.AsTask().WaitAsync(Timeout));
        Assert.Equal(3, await ReceiveAtLeastAsync(socket, buffer, 3));
        Assert.Equal("two", System.Text.Encoding.ASCII.GetString(buffer, 0, 3));
        Assert.True(socket.IsOpen);
    }

    /// <summary>
    /// A wait the loop finished while its caller was not looking, and whose result the caller never
    /// read (the off-loop pattern that crashed the Redis sticky bench): the next operation on that
    /// direction is refused at once on the caller's thread. Parked over the finished one instead,
    /// the loop's next completion threw on the loop's thread and ended the process.
    /// </summary>
    [Fact]
    public async Task ReceiveAsync_PreviousResultNeverRead_RefusedOnTheCallersThread_ThenReadsOn()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        var buffer = new byte[64];

        ValueTask<int> first = socket.ReceiveAsync(buffer, default);
        Assert.False(first.IsCompleted);
        pair.A.Send("abc"u8);
        Assert.True(await WaitUntilAsync(() => first.IsCompleted));   // done by the loop; not read yet

        Assert.Throws<InvalidOperationException>(StartAnother);

        Assert.Equal(3, await first);   // reading it makes the direction usable again
        pair.A.Send("de"u8);
        Assert.Equal(2, await socket.ReceiveAsync(buffer, default).AsTask().WaitAsync(Timeout));
        Assert.Equal("de", System.Text.Encoding.ASCII.GetString(buffer, 0, 2));

        void StartAnother() => GC.KeepAlive(socket.ReceiveAsync(new byte[64], default).AsTask());
    }

    [Fact]
    public async Task ReceiveAsync_ParkedThenClosed_EndsWithOperationAborted()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        ValueTask<int> pending = socket.ReceiveAsync(new byte[16], default);
        Assert.False(pending.IsCompleted);

        // Closing takes the descriptor out of epoll without an event: only Close wakes the waiter.
        socket.Close();

        SocketException e = await Assert.ThrowsAsync<SocketException>(() => pending.AsTask().WaitAsync(Timeout));
        Assert.Equal(SocketError.OperationAborted, e.SocketErrorCode);
        Assert.Throws<ObjectDisposedException>(() => TcpSocket.Adopt(pair.B));
    }

    [Fact]
    public async Task ReceiveAsync_ParkedThenCancelled_EndsCancelledAndTheSocketReadsOn()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        using var cancel = new CancellationTokenSource();
        var buffer = new byte[16];
        ValueTask<int> pending = socket.ReceiveAsync(buffer, cancel.Token);
        Assert.False(pending.IsCompleted);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.AsTask().WaitAsync(Timeout));
        pair.A.Send("late"u8);
        Assert.Equal(4, await ReceiveAtLeastAsync(socket, buffer, 4));
    }

    [Fact]
    public async Task SendAsync_MoreThanTheSocketBuffers_CompletesAsThePeerReads()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        pair.B.SendBufferSize = 16 * 1024;
        pair.A.ReceiveBufferSize = 16 * 1024;
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        Assert.Equal(5, await socket.SendAsync("hello"u8.ToArray(), default));
        Assert.False(socket.HasWriter);   // taken at once: no writer made for it
        byte[] hello = new byte[5];
        Assert.Equal(5, await pair.A.ReceiveAsync(hello, SocketFlags.None));

        byte[] data = new byte[4 * 1024 * 1024];
        new Random(7).NextBytes(data);

        ValueTask<int> send = socket.SendAsync(data, default);
        Assert.False(send.IsCompleted);   // the kernel cannot take 4 MiB at once: the writer parks on EAGAIN
        Assert.True(socket.HasWriter);

        byte[] received = new byte[data.Length];
        int total = 0;
        while (total < data.Length)
        {
            int n = await pair.A.ReceiveAsync(received.AsMemory(total), SocketFlags.None).AsTask().WaitAsync(Timeout);
            Assert.True(n > 0);
            total += n;
        }

        Assert.Equal(data.Length, await send.AsTask().WaitAsync(Timeout));
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task ConnectAsync_OwnDescriptor_ConnectsFromTheBoundAddressAndCarriesBytes()
    {
        using Socket listener = Listen(IPAddress.Loopback);
        TcpSocket client = TcpSocket.Create(AddressFamily.InterNetwork);
        try
        {
            client.Bind(new IPEndPoint(IPAddress.Loopback, 0));   // the egress address, as DirectConnector binds it
            await client.ConnectAsync((IPEndPoint)listener.LocalEndPoint!, default).AsTask().WaitAsync(Timeout);
            using Socket accepted = await listener.AcceptAsync();
            Assert.Equal(IPAddress.Loopback, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
            await client.SendAsync("hi"u8.ToArray(), default);
            var buffer = new byte[2];
            Assert.Equal(2, await accepted.ReceiveAsync(buffer));
            Assert.Equal("hi"u8.ToArray(), buffer);
            Assert.False(client.HasInputOrEnded());   // nothing sent back yet: a pooled connection like this one is fresh

            accepted.Send("x"u8);
            Assert.True(await WaitUntilAsync(client.HasInputOrEnded));   // unsolicited bytes: not reusable
        }
        finally
        {
            client.Close();
        }

        Assert.True(client.IsClosed);
        Assert.False(client.Shutdown(SocketShutdown.Send));   // closed: answered, not thrown
    }

    [Fact]
    public async Task ConnectAsync_AdoptedRuntimeSocket_ConnectsAndCarriesBytes()
    {
        using Socket listener = Listen(IPAddress.Loopback);
        using var runtime = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        TcpSocket client = TcpSocket.Adopt(runtime);

        await client.ConnectAsync((IPEndPoint)listener.LocalEndPoint!, default).AsTask().WaitAsync(Timeout);
        using Socket accepted = await listener.AcceptAsync();
        await client.SendAsync("hi"u8.ToArray(), default);
        var buffer = new byte[2];
        Assert.Equal(2, await accepted.ReceiveAsync(buffer));
        Assert.Equal("hi"u8.ToArray(), buffer);
        client.Close();
        Assert.True(runtime.SafeHandle.IsClosed);   // closing the adopted socket disposes the runtime's
    }

    [Fact]
    public async Task TryAccept_QueuedClients_TakesEachWithItsAddressThenWouldBlock()
    {
        using var runtime = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        runtime.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        runtime.Listen(8);
        TcpSocket.PrepareListener(runtime);
        TcpSocket listening = TcpSocket.Adopt(runtime);
        try
        {
            Assert.Null(listening.TryAccept(out IPEndPoint? none, out SocketError empty));
            Assert.Equal(SocketError.WouldBlock, empty);
            Assert.Null(none);

            // The wait parks until a client queues, then the accept takes it.
            int edges = listening.Reader.Edges;
            ValueTask<int> queued = listening.WaitReadableAsync(edges);
            using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await first.ConnectAsync(runtime.LocalEndPoint!);
            await queued.AsTask().WaitAsync(Timeout);

            TcpSocket accepted = listening.TryAccept(out IPEndPoint? peer, out SocketError error) ?? throw new InvalidOperationException(error.ToString());
            try
            {
                Assert.Equal(first.LocalEndPoint, peer);
                Assert.True(accepted.NoDelay);   // every write the engine makes is a whole message: Nagle off
                first.Send("abc"u8);
                var buffer = new byte[8];
                Assert.Equal(3, await ReceiveAtLeastAsync(accepted, buffer, 3));
                await accepted.SendAsync("ok"u8.ToArray(), default);
                Assert.Equal(2, await first.ReceiveAsync(buffer));
            }
            finally
            {
                accepted.Close();
            }

            // The engine's close of its own descriptor is the client's FIN.
            Assert.Equal(0, await first.ReceiveAsync(new byte[1]).WaitAsync(Timeout));

            // The next client: Nagle off as well, inherited from the listener without a setsockopt of its own.
            using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            edges = listening.Reader.Edges;
            await second.ConnectAsync(runtime.LocalEndPoint!);
            TcpSocket? next = listening.TryAccept(out _, out _);
            if (next is null)
            {
                await listening.WaitReadableAsync(edges).AsTask().WaitAsync(Timeout);
                next = listening.TryAccept(out _, out _);
            }

            Assert.NotNull(next);
            Assert.True(next.NoDelay);
            next.Close();
            Assert.Null(listening.TryAccept(out _, out error));
            Assert.Equal(SocketError.WouldBlock, error);
        }
        finally
        {
            listening.Close();
        }

        Assert.Throws<ObjectDisposedException>(() => listening.TryAccept(out _, out _));
    }

    [Fact]
    public async Task ConnectAsync_IPv6Loopback_CarriesBytesAndSeesThePeersFin()
    {
        using Socket listener = Listen(IPAddress.IPv6Loopback);
        TcpSocket client = TcpSocket.Create(AddressFamily.InterNetworkV6);
        try
        {
            await client.ConnectAsync((IPEndPoint)listener.LocalEndPoint!, default).AsTask().WaitAsync(Timeout);
            using Socket accepted = await listener.AcceptAsync();
            await client.SendAsync("v6"u8.ToArray(), default);
            var buffer = new byte[2];
            Assert.Equal(2, await accepted.ReceiveAsync(buffer));
            Assert.True(client.IsOpen);

            accepted.Shutdown(SocketShutdown.Send);   // an idle pooled connection the server closed
            Assert.True(await WaitUntilAsync(client.HasInputOrEnded));
        }
        finally
        {
            client.Close();
        }
    }

    [Fact]
    public void Bind_AddressInUse_ThrowsAsTheRuntimesBind()
    {
        // The egress address of a node (DirectConnector binds before connecting): a bind that fails
        // reports the runtime's error, which the connector turns into its answer.
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen(1);
        TcpSocket socket = TcpSocket.Create(AddressFamily.InterNetwork);
        try
        {
            SocketException e = Assert.Throws<SocketException>(() => socket.Bind((IPEndPoint)taken.LocalEndPoint!));
            Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
        }
        finally
        {
            socket.Close();
        }
    }

    [Fact]
    public async Task ConnectAsync_NothingListening_FailsWithConnectionRefused()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;   // bound, never listening: the SYN is answered by a reset
        }

        TcpSocket client = TcpSocket.Create(AddressFamily.InterNetwork);
        SocketException e = await Assert.ThrowsAsync<SocketException>(() =>
            client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), default).AsTask().WaitAsync(Timeout));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        client.Close();
    }

    [Theory]
    [InlineData("127.0.0.1", 8080)]
    [InlineData("10.1.2.3", 1)]
    [InlineData("::1", 443)]
    [InlineData("2001:db8::1234", 65535)]
    [InlineData("fe80::1%3", 80)]
    public void WriteAddress_MatchesTheRuntimesNativeSockaddr(string address, int port)
    {
        // What connect(2) is given: sockaddr_in / sockaddr_in6 exactly as the runtime itself lays
        // them out for the kernel (no socket is opened; the IPv6 cases need no IPv6 on the box).
        var endPoint = new IPEndPoint(IPAddress.Parse(address), port);
        Span<byte> written = stackalloc byte[28];
        int length = Epoll.WriteAddress(endPoint, written);

        SocketAddress expected = endPoint.Serialize();
        Assert.Equal(expected.Size, length);
        Assert.Equal(expected.Buffer.Span[..expected.Size].ToArray(), written[..length].ToArray());
        Assert.Equal(endPoint, Epoll.ReadAddress(written[..length]));   // what accept(2) hands back reads as the same endpoint
    }

    [Fact]
    public async Task Adopt_DescriptorOfASocketDisposedWithoutClose_ServesTheNextSocketWithThatNumber()
    {
        // A socket disposed directly leaves its entry behind; the next socket that gets the number
        // must get an entry of its own (and its edges), not the dead one's.
        var buffer = new byte[16];
        for (int round = 0; round < 3; round++)
        {
            using SocketPair pair = await SocketPair.CreateAsync();
            TcpSocket socket = TcpSocket.Adopt(pair.B);
            ValueTask<int> pending = socket.ReceiveAsync(buffer, default);
            pair.A.Send("x"u8);
            Assert.Equal(1, await pending.AsTask().WaitAsync(Timeout));
            ValueTask<int> parked = socket.ReceiveAsync(buffer, default);
            Assert.False(parked.IsCompleted);
            pair.B.Dispose();   // not Close: the parked read stays behind until the number is taken again
        }
    }

    /// <summary>A runtime socket listening on <paramref name="address"/>, any port: the far end of a connect.</summary>
    private static Socket Listen(IPAddress address)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen(1);
        return listener;
    }

    private static async Task<bool> WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        return condition();
    }

    private static async Task<int> ReceiveAtLeastAsync(TcpSocket socket, byte[] buffer, int count)
    {
        int total = 0;
        while (total < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(total), default).AsTask().WaitAsync(Timeout);
            Assert.True(n > 0);
            total += n;
        }

        return total;
    }
}
