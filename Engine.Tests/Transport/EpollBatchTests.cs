using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Transport;

/// <summary>
/// The loop's two phases: every receive a batch of edges calls for is made before any continuation
/// of that batch runs, so a batch of requests is read, then handled, and their sends go out back to
/// back (as HAProxy's do) instead of a receive and a send in turn.
/// </summary>
public class EpollBatchTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task OneBatch_EveryReceiveIsMadeBeforeTheFirstContinuation()
    {
        Assert.True(EpollLoop.Enabled, "this machine runs the engine's own loop");
        using SocketPair hold = await SocketPair.CreateAsync();
        using SocketPair first = await SocketPair.CreateAsync();
        using SocketPair second = await SocketPair.CreateAsync();
        TcpSocket holdSocket = TcpSocket.Adopt(hold.B);
        var firstReader = new SocketReader();
        var secondReader = new SocketReader();
        firstReader.Attach(TcpSocket.Adopt(first.B));
        secondReader.Attach(TcpSocket.Adopt(second.B));

        // Hold one loop: the continuation of a receive on it starts the two waits there (so both
        // sockets join that loop) and blocks until both peers have sent; the loop's next batch then
        // holds both edges.
        using var waitsStarted = new ManualResetEventSlim();
        using var bothSent = new ManualResetEventSlim();
        var seen = new TaskCompletionSource<(string? Second, bool OnLoop)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<int>? secondWait = null;
        InlineContinuation.WhenDone(holdSocket.ReceiveAsync(new byte[16]), _ =>
        {
            string? loop = Thread.CurrentThread.Name;
            InlineContinuation.WhenDone(firstReader.WaitForDataAsync(default), _ =>
            {
                // The first continuation of the batch: the second socket's bytes are already in.
                string? secondBuffered = secondReader.TryRead(out ReadResult read) ? Text(read.Buffer) : null;
                if (read.Buffer.Length > 0)
                {
                    secondReader.AdvanceTo(read.Buffer.Start);
                }

                seen.SetResult((secondBuffered, Thread.CurrentThread.Name == loop));
            });
            secondWait = secondReader.WaitForDataAsync(default).AsTask();
            waitsStarted.Set();
            bothSent.Wait(Timeout);
        });

        hold.A.Send("h"u8);
        Assert.True(waitsStarted.Wait(Timeout));
        first.A.Send("first"u8);
        second.A.Send("second"u8);
        await Task.Delay(50);   // both segments are queued on their sockets before the loop looks again
        bothSent.Set();

        (string? secondBuffered, bool onLoop) = await seen.Task.WaitAsync(Timeout);
        Assert.True(onLoop, "the first wait ended on the loop both sockets joined");
        Assert.Equal("second", secondBuffered);
        await secondWait!.WaitAsync(Timeout);
        Assert.True(firstReader.TryRead(out ReadResult firstRead));
        Assert.Equal("first", Text(firstRead.Buffer));
        firstReader.AdvanceTo(firstRead.Buffer.End);
        firstReader.Complete();
        secondReader.Complete();
        holdSocket.Close();
    }

    private static string Text(ReadOnlySequence<byte> buffer) => System.Text.Encoding.ASCII.GetString(buffer.ToArray());
}
