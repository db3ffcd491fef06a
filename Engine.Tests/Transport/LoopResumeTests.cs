using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Transport;

/// <summary>
/// <see cref="LoopResume.ResumeOnLoop{T}"/>: an await that completes on another thread goes on on
/// the loop it was awaited from (the control with <c>ConfigureAwait(false)</c> shows where it
/// went on before).
/// </summary>
public class LoopResumeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ResumeOnLoop_CompletedOnAnotherThread_GoesOnOnTheAwaitingLoop()
    {
        (EpollLoop? before, EpollLoop? after) = await AwaitOnLoopAsync(static task => WithResume(task));
        Assert.NotNull(before);
        Assert.Same(before, after);
    }

    [Fact]
    public async Task ConfigureAwaitFalse_CompletedOnAnotherThread_GoesOnOffTheLoops()
    {
        (EpollLoop? before, EpollLoop? after) = await AwaitOnLoopAsync(static task => WithoutResume(task));
        Assert.NotNull(before);
        Assert.Null(after);
    }

    [Fact]
    public async Task ResumeOnLoop_AwaitedOffTheLoops_GoesOnWhereTheTaskCompleted()
    {
        var source = new TaskCompletionSource<int>();
        Task<EpollLoop?> awaited = Task.Run(async () =>
        {
            Assert.Null(EpollLoop.Current);
            int value = await new ValueTask<int>(source.Task).ResumeOnLoop();
            Assert.Equal(7, value);
            return EpollLoop.Current;
        });
        await Task.Delay(10);
        source.SetResult(7);
        Assert.Null(await awaited.WaitAsync(Timeout));
    }

    [Fact]
    public async Task ResumeOnLoop_CompletedSynchronously_ReturnsTheResultInline()
    {
        (EpollLoop? before, EpollLoop? after) = await AwaitOnLoopAsync(static _ => WithResume(Task.FromResult(7)));
        Assert.NotNull(before);
        Assert.Same(before, after);
    }

    [Fact]
    public async Task ResumeOnLoop_Faulted_ThrowsOnTheAwaitingLoop()
    {
        (EpollLoop? before, EpollLoop? after) = await AwaitOnLoopAsync(static async task =>
        {
            try
            {
                await new ValueTask<int>(task.ContinueWith<int>(static _ => throw new InvalidOperationException("injected"), TaskScheduler.Default)).ResumeOnLoop();
                return null;
            }
            catch (InvalidOperationException)
            {
                return EpollLoop.Current;
            }
        });
        Assert.NotNull(before);
        Assert.Same(before, after);
    }

    private static async Task<EpollLoop?> WithResume(Task<int> task)
    {
        int value = await new ValueTask<int>(task).ResumeOnLoop();
        Assert.Equal(7, value);
        return EpollLoop.Current;
    }

    private static async Task<EpollLoop?> WithoutResume(Task<int> task)
    {
        int value = await new ValueTask<int>(task).ConfigureAwait(false);
        Assert.Equal(7, value);
        return EpollLoop.Current;
    }

    /// <summary>
    /// Runs <paramref name="body"/> from a receive's continuation (on a loop's thread) over a task a
    /// dedicated thread completes afterwards; the loops the body started and ended on.
    /// </summary>
    private static async Task<(EpollLoop? Before, EpollLoop? After)> AwaitOnLoopAsync(Func<Task<int>, Task<EpollLoop?>> body)
    {
        Assert.True(EpollLoop.Enabled, "this machine runs the engine's own loop");
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        var source = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource<(EpollLoop? Before, Task<EpollLoop?> After)>(TaskCreationOptions.RunContinuationsAsynchronously);
        InlineContinuation.WhenDone(socket.ReceiveAsync(new byte[16]), _ => started.SetResult((EpollLoop.Current, body(source.Task))), e => started.SetException(e));
        pair.A.Send("x"u8);
        (EpollLoop? before, Task<EpollLoop?> after) = await started.Task.WaitAsync(Timeout);

        var completer = new Thread(() => source.SetResult(7)) { IsBackground = true };
        completer.Start();
        EpollLoop? end = await after.WaitAsync(Timeout);
        socket.Close();
        return (before, end);
    }
}
