using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Engine.Tests.Tunnel;
using Engine.Transport;

namespace Engine.Tests.Transport;

public class SocketReaderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ReadAsync_ExaminedEverything_WaitsForMoreAndKeepsUnconsumedBytes()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));

        await pair.A.SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray().AsMemory(), SocketFlags.None);
        ReadResult first = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal("HTTP/1.1 200 OK\r\n", ToText(first.Buffer));
        reader.AdvanceTo(first.Buffer.Start, first.Buffer.End);   // like a head parser that needs more

        ValueTask<ReadResult> pending = reader.ReadAsync();
        Assert.False(pending.IsCompleted);
        await pair.A.SendAsync("Content-Length: 0\r\n\r\n"u8.ToArray().AsMemory(), SocketFlags.None);
        ReadResult second = await pending.AsTask().WaitAsync(Timeout);
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", ToText(second.Buffer));
        Assert.False(second.IsCompleted);
        reader.AdvanceTo(second.Buffer.End);
        Assert.False(reader.TryRead(out _));
        reader.Complete();
    }

    [Fact]
    public async Task ReadAsync_UnexaminedBytesLeft_ReturnsThemWithoutReceiving()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        await pair.A.SendAsync("first|second"u8.ToArray().AsMemory(), SocketFlags.None);
        ReadResult read = await ReadAtLeastAsync(reader, 12);
        SequencePosition bar = read.Buffer.PositionOf((byte)'|')!.Value;
        reader.AdvanceTo(read.Buffer.GetPosition(1, bar), read.Buffer.GetPosition(1, bar));

        ValueTask<ReadResult> next = reader.ReadAsync();
        Assert.True(next.IsCompletedSuccessfully);
        Assert.Equal("second", ToText((await next).Buffer));
        Assert.True(reader.TryRead(out ReadResult again));
        Assert.Equal("second", ToText(again.Buffer));
        reader.Complete();
    }

    [Fact]
    public async Task ReadAsync_HeadLargerThanABlock_GrowsAndKeepsEveryByte()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        byte[] big = new byte[100_000];
        new Random(7).NextBytes(big);
        Task send = pair.A.SendAsync(big.AsMemory(), SocketFlags.None).AsTask();

        ReadResult read;
        while (true)
        {
            read = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            if (read.Buffer.Length >= big.Length)
            {
                break;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);   // consume nothing, examine all
        }

        await send;
        Assert.Equal(big, read.Buffer.ToArray());
        reader.AdvanceTo(read.Buffer.End);
        reader.Complete();
    }

    [Fact]
    public async Task ReadAsync_ConsumingAsItGoes_CompactsAndDeliversTheStreamInOrder()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        byte[] data = new byte[300_000];
        new Random(11).NextBytes(data);
        Task send = Task.Run(async () =>
        {
            await pair.A.SendAsync(data.AsMemory(), SocketFlags.None);
            pair.A.Shutdown(SocketShutdown.Send);
        });

        var received = new List<byte>();
        while (true)
        {
            ReadResult read = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            // Consume all but the last 100 bytes of each read (a parser waiting on a boundary).
            long take = read.IsCompleted ? read.Buffer.Length : Math.Max(0, read.Buffer.Length - 100);
            received.AddRange(read.Buffer.Slice(0, take).ToArray());
            reader.AdvanceTo(read.Buffer.GetPosition(take), read.Buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }

        await send;
        Assert.Equal(data, received.ToArray());
        reader.Complete();
    }

    [Fact]
    public async Task ReadAsync_PeerFin_IsCompleted()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        pair.A.Shutdown(SocketShutdown.Send);
        ReadResult read = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.True(read.IsCompleted);
        Assert.True(read.Buffer.IsEmpty);
        reader.AdvanceTo(read.Buffer.End);
        Assert.True(reader.TryRead(out ReadResult again));
        Assert.True(again.IsCompleted);
        reader.Complete();
    }

    [Fact]
    public async Task CancelPendingRead_WakesAPendingReadAsCanceled()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        ValueTask<ReadResult> pending = reader.ReadAsync();
        Assert.False(pending.IsCompleted);

        reader.CancelPendingRead();
        ReadResult read = await pending.AsTask().WaitAsync(Timeout);
        Assert.True(read.IsCanceled);
        Assert.False(read.IsCompleted);
        reader.Complete();
    }

    [Fact]
    public async Task CancelPendingRead_BeforeTheRead_NextReadIsCanceledAtOnce()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        reader.CancelPendingRead();
        ValueTask<ReadResult> read = reader.ReadAsync();
        Assert.True(read.IsCompletedSuccessfully);
        Assert.True((await read).IsCanceled);
        reader.Complete();
    }

    [Fact]
    public async Task ReadAsync_TokenCancelled_ThrowsOperationCanceled()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await reader.ReadAsync(deadline.Token));
        reader.Complete();
    }

    [Fact]
    public async Task Attach_AfterComplete_ReadsTheNewSocketOnly()
    {
        using SocketPair first = await SocketPair.CreateAsync();
        using SocketPair second = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(first.B));
        await first.A.SendAsync("one"u8.ToArray().AsMemory(), SocketFlags.None);
        ReadResult read = await ReadAtLeastAsync(reader, 3);
        Assert.Equal("one", ToText(read.Buffer));
        reader.Complete();   // unconsumed bytes are dropped with the buffer

        reader.Attach(TcpSocket.Adopt(second.B));
        await second.A.SendAsync("two"u8.ToArray().AsMemory(), SocketFlags.None);
        read = await ReadAtLeastAsync(reader, 3);
        Assert.Equal("two", ToText(read.Buffer));
        reader.AdvanceTo(read.Buffer.End);
        reader.Complete();
    }

    [Fact]
    public async Task ClientReader_WaitsForDataThenReads_AndAResetIsConnectionReset()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader(TcpSocket.Adopt(pair.B), client: true);

        ValueTask<ReadResult> waiting = reader.ReadAsync();
        Assert.False(waiting.IsCompleted);   // the zero-byte wait: no data, no block taken
        await pair.A.SendAsync("GET / HTTP/1.1\r\n"u8.ToArray().AsMemory(), SocketFlags.None);
        ReadResult read = await waiting.AsTask().WaitAsync(Timeout);
        Assert.Equal("GET / HTTP/1.1\r\n", ToText(read.Buffer));
        reader.AdvanceTo(read.Buffer.End);

        pair.A.LingerState = new LingerOption(true, 0);
        pair.A.Close();   // RST
        await Assert.ThrowsAsync<ConnectionResetException>(async () =>
        {
            while (true)
            {
                ReadResult next = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
                Assert.False(next.IsCompleted, "a reset is not a FIN");
                reader.AdvanceTo(next.Buffer.End);
            }
        });
    }

    /// <summary>
    /// On the engine's loop a zero-byte wait receives at the edge: once the wait is over the bytes
    /// are buffered, with no read of the caller's (the loop read them with the rest of its batch).
    /// </summary>
    [Fact]
    public async Task WaitForData_OnTheLoop_TheBytesAreBufferedWhenTheWaitEnds()
    {
        Assert.True(EpollLoop.Enabled, "this machine runs the engine's own loop");
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));

        ValueTask<int> waiting = reader.WaitForDataAsync(default);
        Assert.False(waiting.IsCompleted);
        Assert.False(reader.TryRead(out _));
        await pair.A.SendAsync("HTTP/1.1 200 OK\r\n"u8.ToArray().AsMemory(), SocketFlags.None);
        Assert.Equal(0, await waiting.AsTask().WaitAsync(Timeout));

        Assert.True(reader.TryRead(out ReadResult read));
        Assert.Equal("HTTP/1.1 200 OK\r\n", ToText(read.Buffer));
        Assert.False(read.IsCompleted);
        reader.AdvanceTo(read.Buffer.End);
        reader.Complete();
    }

    /// <summary>A FIN met at the edge ends the wait; the next read is the completed, empty one.</summary>
    [Fact]
    public async Task WaitForData_PeerClosed_NextReadIsCompleted()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        ValueTask<int> waiting = reader.WaitForDataAsync(default);
        pair.A.Shutdown(SocketShutdown.Send);
        await waiting.AsTask().WaitAsync(Timeout);

        ReadResult read = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.True(read.IsCompleted);
        Assert.True(read.Buffer.IsEmpty);
        reader.Complete();
    }

    /// <summary>
    /// A reset met at the edge ends the wait without an error (the wait's callers ignore what it
    /// met); the next read reports it exactly as its own receive would have: ConnectionReset, once.
    /// </summary>
    [Fact]
    public async Task WaitForData_PeerReset_TheNextReadReportsTheReset()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader();
        reader.Attach(TcpSocket.Adopt(pair.B));
        ValueTask<int> waiting = reader.WaitForDataAsync(default);
        Assert.False(waiting.IsCompleted);
        pair.A.LingerState = new LingerOption(true, 0);
        pair.A.Close();   // RST
        Assert.Equal(0, await waiting.AsTask().WaitAsync(Timeout));

        SocketException reset = await Assert.ThrowsAsync<SocketException>(async () => await reader.ReadAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        reader.Complete();
    }

    [Fact]
    public async Task ClientReader_CancelPendingRead_WakesTheWaitAsCanceled()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var reader = new SocketReader(TcpSocket.Adopt(pair.B), client: true);
        ValueTask<ReadResult> waiting = reader.ReadAsync();
        reader.CancelPendingRead();
        ReadResult read = await waiting.AsTask().WaitAsync(Timeout);
        Assert.True(read.IsCanceled);
        Assert.False(read.IsCompleted);
    }

    private static async Task<ReadResult> ReadAtLeastAsync(SocketReader reader, int bytes)
    {
        while (true)
        {
            ReadResult read = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            if (read.Buffer.Length >= bytes || read.IsCompleted)
            {
                return read;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    private static string ToText(ReadOnlySequence<byte> buffer) => System.Text.Encoding.ASCII.GetString(buffer.ToArray());
}
