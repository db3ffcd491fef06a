using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Engine.Transport;

namespace Engine.Tests.Transport;

public class SocketWriterTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FlushAsync_MoreThanOneBlockWritten_ArrivesWholeAndInOrder()
    {
        // A response head and a 32 KiB body read written before one flush span two pool blocks.
        using SocketPair pair = await SocketPair.CreateAsync();
        var writer = new SocketWriter(TcpSocket.Adopt(pair.B));
        byte[] expected = new byte[100 + (80 * 1024) + 7];
        new Random(5).NextBytes(expected);
        writer.Write(expected.AsSpan(0, 100));
        writer.Write(expected.AsSpan(100, 80 * 1024));
        writer.Write(expected.AsSpan(100 + (80 * 1024)));
        Assert.Equal(expected.Length, writer.UnflushedBytes);

        Task<byte[]> received = ReceiveAsync(pair.A, expected.Length);
        FlushResult flushed = await writer.FlushAsync().AsTask().WaitAsync(Timeout);

        Assert.False(flushed.IsCompleted);
        Assert.Equal(0, writer.UnflushedBytes);
        Assert.Equal(expected, await received.WaitAsync(Timeout));
    }

    [Fact]
    public async Task FlushAsync_ClientReset_IsCompletedNotThrown()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var writer = new SocketWriter(TcpSocket.Adopt(pair.B));
        pair.A.LingerState = new LingerOption(true, 0);
        pair.A.Close();   // RST

        // The first sends may still be accepted by the kernel before the reset is seen.
        FlushResult flushed = default;
        for (int i = 0; i < 100 && !flushed.IsCompleted; i++)
        {
            writer.Write(new byte[16 * 1024].AsSpan());
            flushed = await writer.FlushAsync().AsTask().WaitAsync(Timeout);
        }

        Assert.True(flushed.IsCompleted);
    }

    [Fact]
    public async Task CompleteAsync_SendsWhatIsBufferedThenFin()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        var writer = new SocketWriter(TcpSocket.Adopt(pair.B));
        writer.Write("last words"u8.ToArray().AsSpan());
        await writer.CompleteAsync().AsTask().WaitAsync(Timeout);

        byte[] buffer = new byte[64];
        int n = await pair.A.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout);
        Assert.Equal("last words", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(0, await pair.A.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(Timeout));   // FIN
    }

    private static async Task<byte[]> ReceiveAsync(Socket socket, int length)
    {
        byte[] buffer = new byte[length];
        for (int got = 0; got < length;)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
            Assert.NotEqual(0, n);
            got += n;
        }

        return buffer;
    }
}
