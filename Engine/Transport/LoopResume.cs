namespace Engine.Transport;

/// <summary>
/// <c>await task.ResumeOnLoop()</c>: when <paramref name="task"/> completes on another thread (a
/// Redis reply, a DNS answer), the awaiting method goes on on the event loop it was awaited from,
/// not on that thread. What matters is what it does next: a socket it opens joins the loop of the
/// thread that first waits on it (<see cref="EpollLoop.Next"/>), and an upstream socket opened
/// from the thread pool joined the next loop in turn, so every later event of the request crossed
/// threads — a wake-up per hand-over. Sticky requests on the Redis store (two round trips per
/// session before the near cache holds it) ran at 0.75–0.88× the memory store's rate with the box
/// half idle; with this, level (docs/performance.md "Requests that came back from Redis").
/// </summary>
internal static class LoopResume
{
    public static LoopResumeAwaitable<T> ResumeOnLoop<T>(this ValueTask<T> task) => new(task, EpollLoop.Current);

    /// <summary>The continuation of an await that completed elsewhere, handed to its loop.</summary>
    internal sealed class Hop(EpollLoop loop, Action continuation)
    {
        private static readonly Action<object?> RunPosted = static state => ((Action)state!)();

        public void Run()
        {
            if (EpollLoop.Current == loop || !loop.Post(RunPosted, continuation))
            {
                continuation();
            }
        }
    }
}
