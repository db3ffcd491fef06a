using Engine.Transport;

namespace Engine.Tests.Fixtures;

/// <summary>Runs test code on one of the engine's loop threads (from a receive's continuation there).</summary>
internal static class OnLoop
{
    public static async Task<T> RunAsync<T>(Func<T> body)
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        TcpSocket socket = TcpSocket.Adopt(pair.B);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        InlineContinuation.WhenDone(socket.ReceiveAsync(new byte[16]), _ =>
        {
            try
            {
                done.SetResult(body());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, e => done.SetException(e));
        pair.A.Send("x"u8);
        try
        {
            return await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            socket.Close();
        }
    }

    /// <summary>A loop other than <paramref name="loop"/>; the box must have two cores (one loop per core).</summary>
    public static EpollLoop Another(EpollLoop loop)
    {
        for (int i = 0; i <= EpollLoop.Count; i++)
        {
            EpollLoop other = EpollLoop.InTurn();
            if (other != loop)
            {
                return other;
            }
        }

        throw new InvalidOperationException($"one loop only ({Environment.ProcessorCount} processors): these tests need two");
    }
}
