using System.Net;
using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Transport;

/// <summary>
/// The engine's own epoll loop, driven directly (not through the <c>ENGINE_RUNTIME_SOCKETS</c>
/// switch): the peer side of each pair is a runtime socket.
/// </summary>
public class EpollSocketTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ReceiveAsync_DataAndFinArriveWhileParked_ReturnsTheDataThenTheEnd()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        EpollSocket socket = EpollSocket.For(pair.B);
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
        EpollSocket socket = EpollSocket.For(pair.B);
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

    [Fact]
    public async Task ReceiveAsync_ParkedThenClosed_EndsWithOperationAborted()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        EpollSocket socket = EpollSocket.For(pair.B);
        ValueTask<int> pending = socket.ReceiveAsync(new byte[16], default);
        Assert.False(pending.IsCompleted);

        // Closing takes the descriptor out of epoll without an event: only Close wakes the waiter.
        SocketOperation.Close(pair.B);

        SocketException e = await Assert.ThrowsAsync<SocketException>(() => pending.AsTask().WaitAsync(Timeout));
        Assert.Equal(SocketError.OperationAborted, e.SocketErrorCode);
        Assert.Throws<ObjectDisposedException>(() => EpollSocket.For(pair.B));
    }

    [Fact]
    public async Task ReceiveAsync_ParkedThenCancelled_EndsCancelledAndTheSocketReadsOn()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        EpollSocket socket = EpollSocket.For(pair.B);
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
        EpollSocket socket = EpollSocket.For(pair.B);
        byte[] data = new byte[4 * 1024 * 1024];
        new Random(7).NextBytes(data);

        ValueTask<int> send = socket.SendAsync(data, default);
        Assert.False(send.IsCompleted);   // the kernel cannot take 4 MiB at once: the writer parks on EAGAIN

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
    public async Task ConnectAsync_Listening_ConnectsAndCarriesBytes()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        await EpollSocket.For(client).ConnectAsync((IPEndPoint)listener.LocalEndPoint!, default).AsTask().WaitAsync(Timeout);
        using Socket accepted = await listener.AcceptAsync();
        await EpollSocket.For(client).SendAsync("hi"u8.ToArray(), default);
        var buffer = new byte[2];
        Assert.Equal(2, await accepted.ReceiveAsync(buffer));
        Assert.Equal("hi"u8.ToArray(), buffer);
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

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException e = await Assert.ThrowsAsync<SocketException>(() =>
            EpollSocket.For(client).ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), default).AsTask().WaitAsync(Timeout));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
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
    }

    [Fact]
    public async Task For_DescriptorOfASocketDisposedWithoutClose_ServesTheNextSocketWithThatNumber()
    {
        // A socket disposed directly leaves its entry behind; the next socket that gets the number
        // must get an entry of its own (and its edges), not the dead one's.
        var buffer = new byte[16];
        for (int round = 0; round < 3; round++)
        {
            using SocketPair pair = await SocketPair.CreateAsync();
            EpollSocket socket = EpollSocket.For(pair.B);
            ValueTask<int> pending = socket.ReceiveAsync(buffer, default);
            pair.A.Send("x"u8);
            Assert.Equal(1, await pending.AsTask().WaitAsync(Timeout));
            ValueTask<int> parked = socket.ReceiveAsync(buffer, default);
            Assert.False(parked.IsCompleted);
            pair.B.Dispose();   // not Close: the parked read stays behind until the number is taken again
        }
    }

    private static async Task<int> ReceiveAtLeastAsync(EpollSocket socket, byte[] buffer, int count)
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
