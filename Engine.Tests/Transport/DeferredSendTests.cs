using System.IO.Pipelines;
using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Transport;

/// <summary>
/// The loop's third phase: what a continuation on a loop flushes is sent once every continuation
/// of the batch ran, back to back, and never overtaken by anything sent after it.
/// </summary>
public class DeferredSendTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task FlushOnTheLoop_IsSentAfterTheContinuation_InOrderWithWhatFollows()
    {
        Assert.True(EpollLoop.Enabled, "this machine runs the engine's own loop");
        using Rig rig = await Rig.CreateAsync();
        (SocketPair client, TcpSocket clientSocket, SocketWriter writer) = (rig.Client, rig.ClientSocket, rig.Writer);
        var inside = new TaskCompletionSource<(bool FlushDone, int AvailableAfterFlush, int AvailableAfterSecond)>(TaskCreationOptions.RunContinuationsAsynchronously);

        rig.OnTheLoop(() =>
        {
            Write(writer, "first|");
            ValueTask<FlushResult> flush = writer.FlushAsync();
            bool done = flush.IsCompletedSuccessfully;
            _ = flush.Result;
            int afterFlush = client.A.Available;   // a send on loopback is in the peer's queue when it returns

            Write(writer, "second");
            ValueTask<FlushResult> again = writer.FlushAsync();
            _ = again.Result;
            inside.SetResult((done, afterFlush, client.A.Available));
        });

        (bool flushDone, int availableAfterFlush, int availableAfterSecond) = await inside.Task.WaitAsync(Timeout);
        Assert.True(flushDone, "the flush is done for its caller at once");
        Assert.Equal(0, availableAfterFlush);
        Assert.Equal(0, availableAfterSecond);
        Assert.Equal("first|second", await ReceiveAsync(client.A, "first|second".Length));
    }

    [Fact]
    public async Task HeldBytes_GoBeforeARawSendAndBeforeTheFin()
    {
        using Rig rig = await Rig.CreateAsync();
        (SocketPair client, TcpSocket clientSocket, SocketWriter writer) = (rig.Client, rig.ClientSocket, rig.Writer);
        var inside = new TaskCompletionSource<Task?>(TaskCreationOptions.RunContinuationsAsynchronously);

        rig.OnTheLoop(() =>
        {
            // A tunnel's 200, then its first bytes on the raw socket (a server-speaks-first
            // target's banner), then the tunnel's end: the order the client must see.
            Write(writer, "HTTP/1.1 200 Connection established\r\n\r\n");
            Flushed(writer.FlushAsync());
            Task? held = writer.SendHeldNow();
            ValueTask<int> banner = clientSocket.SendAsync("SSH-2.0-banner\r\n"u8.ToArray());
            if (!banner.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("the banner's send waited");
            }

            _ = banner.Result;
            writer.Complete();
            inside.SetResult(held);
        });

        Assert.Null(await inside.Task.WaitAsync(Timeout));   // the kernel took it whole at once
        Assert.Equal("HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-banner\r\n", await ReceiveToEndAsync(client.A));
    }

    [Fact]
    public async Task CompleteAsync_OnTheLoop_SendsWhatWasHeldThenTheFin()
    {
        using Rig rig = await Rig.CreateAsync();
        (SocketPair client, TcpSocket clientSocket, SocketWriter writer) = (rig.Client, rig.ClientSocket, rig.Writer);
        var inside = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        rig.OnTheLoop(() =>
        {
            Write(writer, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n");
            Flushed(writer.FlushAsync());
            int heldBefore = client.A.Available;
            ValueTask completing = writer.CompleteAsync();
            if (!completing.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("the completion waited");   // a completion sends at once: nothing waits for the batch's end
            }

            completing.GetAwaiter().GetResult();
            inside.SetResult(heldBefore);
        });

        Assert.Equal(0, await inside.Task.WaitAsync(Timeout));
        Assert.Equal("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n", await ReceiveToEndAsync(client.A));
    }

    [Fact]
    public async Task FlushOffTheLoop_IsSentAtOnce()
    {
        using SocketPair client = await SocketPair.CreateAsync();
        TcpSocket clientSocket = TcpSocket.Adopt(client.B);
        var writer = new SocketWriter(clientSocket);
        Write(writer, "now");
        await writer.FlushAsync();
        Assert.Equal("now", await ReceiveAsync(client.A, 3));
        clientSocket.Close();
    }

    /// <summary>A flush that must be done for its caller at once (held or sent).</summary>
    private static void Flushed(ValueTask<FlushResult> flush)
    {
        Assert.True(flush.IsCompletedSuccessfully, "the flush waited");
        Assert.False(flush.Result.IsCompleted);
    }

    private static void Write(SocketWriter writer, string text)
    {
        int written = System.Text.Encoding.ASCII.GetBytes(text, writer.GetSpan(text.Length));
        writer.Advance(written);
    }

    /// <summary>A client socket with its writer, and a trigger socket whose receive runs code on a loop.</summary>
    private sealed class Rig : IDisposable
    {
        private readonly SocketPair _trigger;
        private readonly TcpSocket _triggerSocket;

        private Rig(SocketPair trigger, SocketPair client)
        {
            _trigger = trigger;
            _triggerSocket = TcpSocket.Adopt(trigger.B);
            Client = client;
            ClientSocket = TcpSocket.Adopt(client.B);
            Writer = new SocketWriter(ClientSocket);
        }

        public SocketPair Client { get; }

        public TcpSocket ClientSocket { get; }

        public SocketWriter Writer { get; }

        public static async Task<Rig> CreateAsync() => new(await SocketPair.CreateAsync(), await SocketPair.CreateAsync());

        /// <summary>Runs <paramref name="then"/> where a receive completes: on its loop, in the batch's second phase.</summary>
        public void OnTheLoop(Action then)
        {
            InlineContinuation.WhenDone(_triggerSocket.ReceiveAsync(new byte[16]), _ => then());
            _trigger.A.Send("go"u8);
        }

        public void Dispose()
        {
            ClientSocket.Close();
            _triggerSocket.Close();
            Client.Dispose();
            _trigger.Dispose();
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        int read = 0;
        while (read < length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None).AsTask().WaitAsync(Timeout);
            Assert.True(n > 0, "the peer closed early");
            read += n;
        }

        return System.Text.Encoding.ASCII.GetString(buffer);
    }

    private static async Task<string> ReceiveToEndAsync(Socket socket)
    {
        var text = new System.Text.StringBuilder();
        var buffer = new byte[256];
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout);
            if (n == 0)
            {
                return text.ToString();
            }

            text.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, n));
        }
    }
}
