using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Engine.Transport;

/// <summary>
/// An epoll instance and the thread that waits on it: the engine's own event loop for data-path
/// sockets. One per processor the process saw at start; each socket joins one loop at its first
/// wait (an accepted client the next in turn, any other the loop it was touched from, else the next
/// in turn) and stays there, and its waiting operations resume on that loop's thread, as the
/// runtime's sockets did with <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c>. A connection's
/// code runs on its client's loop only (<see cref="Post"/>, <see cref="LoopResume"/>).
/// </summary>
/// <remarks>
/// Why not the runtime's socket engine: it tries every receive at once and waits for epoll only
/// after the kernel answered EAGAIN, and on a proxy the next request and the target's answer are
/// never there yet, so a keep-alive GET cost four <c>recvfrom</c> where HAProxy makes two (perf stat
/// over a wrk run, docs/performance.md). Here a socket whose last read came back short is known to
/// be drained, and the next read waits for the loop's edge without asking the kernel first. Its
/// per-socket context and cached event args were also ~1 KB of every idle tunnel.
/// </remarks>
internal sealed unsafe class EpollLoop
{
    private const int Capacity = 256;   // events per epoll_wait; more wait for the next call

    /// <summary>
    /// Linux on x86-64, unless <c>ENGINE_RUNTIME_SOCKETS=1</c> asks for the runtime's sockets (for
    /// an A/B run, or a kernel that misbehaves); everywhere else the runtime's sockets serve.
    /// </summary>
    public static readonly bool Enabled =
        OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture == Architecture.X64
        && Environment.GetEnvironmentVariable("ENGINE_RUNTIME_SOCKETS") != "1";

    private static EpollLoop[]? s_loops;
    private static int s_next;

    // The events that are the lag probe's and the post bell's (no socket has these descriptor and generation pairs).
    private const ulong ProbeData = ulong.MaxValue;
    private const ulong BellData = ulong.MaxValue - 1;

    // Operations an edge of this batch completed, in the order found; their continuations run once
    // every event of the batch was seen. Each event completes at most its reader and its writer.
    private readonly EpollOperation?[] _ready = new EpollOperation?[Capacity * 2];
    private int _readyCount;

    // Sends held while the continuations run, made once they all ran (the third phase).
    private readonly List<IDeferredSend> _sends = new(Capacity);
    private bool _handling;   // the second phase runs on this loop

    private readonly int _epoll;
    private readonly int _probe;   // the eventfd the lag sampler rings; -1 when it could not be made
    private readonly int _bell;    // the eventfd Post rings; -1 when it could not be made

    // Continuations other threads handed to this loop (Post); _bellRung: a ring is on its way.
    private readonly System.Collections.Concurrent.ConcurrentQueue<(Action<object?> Callback, object? State)> _posted = new();
    private int _bellRung;
    private LoopLag _lag;
    private long _sampledLag;      // this loop's lag at the last SampleLag (Stopwatch ticks)
    private static long s_sampledMaxLag;   // the longest of them

    private EpollLoop(int epoll, int index)
    {
        _epoll = epoll;
        _probe = Epoll.AddBell(epoll, ProbeData);
        _bell = Epoll.AddBell(epoll, BellData);
        var thread = new Thread(Run) { IsBackground = true, Name = $"epoll {index}" };
        thread.UnsafeStart();
    }

    public int Descriptor => _epoll;

    [ThreadStatic]
    private static EpollLoop? t_current;

    /// <summary>The loop whose thread the caller runs on; null elsewhere (the thread pool, a timer).</summary>
    internal static EpollLoop? Current => t_current;

    /// <summary>
    /// Runs <paramref name="callback"/> on this loop's thread with the continuations of its next
    /// batch (so its sends are batched with theirs). False when the loop has no bell (the eventfd
    /// could not be made): the caller runs it itself.
    /// </summary>
    internal bool Post(Action<object?> callback, object? state)
    {
        if (_bell < 0)
        {
            return false;
        }

        _posted.Enqueue((callback, state));
        // One ring per batch: the loop clears the flag before it takes the queue, so a post that
        // comes after it took the queue rings again and one that came before is taken with it.
        if (Interlocked.Exchange(ref _bellRung, 1) == 0 && !Epoll.Ring(_bell))
        {
            // The eventfd's counter cannot overflow at one ring per batch; a failed write is a
            // broken descriptor, and every posted continuation would wait for good.
            Environment.FailFast($"eventfd write failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return true;
    }

    /// <summary>
    /// The loop the next socket joins: the caller's own when it runs on one (an upstream socket
    /// joins its client's loop, so a request's events never cross threads), else the next in turn.
    /// A request that awaited Redis or the resolver is back on its loop by then
    /// (<see cref="LoopResume.ResumeOnLoop{T}"/>).
    /// </summary>
    public static EpollLoop Next()
    {
        if (t_current is { } current)
        {
            return current;
        }

        return InTurn();
    }

    /// <summary>
    /// The next loop in turn, whoever asks: where an accepted client goes. Its listener's loop
    /// would take them all, and a box's other loops would serve nothing (one listener, one core).
    /// </summary>
    public static EpollLoop InTurn()
    {
        EpollLoop[] loops = Volatile.Read(ref s_loops) ?? Start();
        return loops.Length == 1 ? loops[0] : loops[(int)((uint)Interlocked.Increment(ref s_next) % (uint)loops.Length)];
    }

    private static EpollLoop[] Start()
    {
        var loops = new EpollLoop[Math.Clamp(Environment.ProcessorCount, 1, 16)];
        for (int i = 0; i < loops.Length; i++)
        {
            int epoll = Epoll.Create();
            if (epoll < 0)
            {
                throw new System.Net.Sockets.SocketException(Marshal.GetLastPInvokeError());
            }

            loops[i] = new EpollLoop(epoll, i);
        }

        // Two threads racing here each start loops; the loser's stay idle with nothing joined.
        return Interlocked.CompareExchange(ref s_loops, loops, null) ?? loops;
    }

    private void Run()
    {
        t_current = this;
        Epoll.Event* events = (Epoll.Event*)NativeMemory.Alloc(Capacity, (nuint)sizeof(Epoll.Event));
        while (true)
        {
            int n = Epoll.Wait(_epoll, events, Capacity);
            if (n < 0)
            {
                // Only a broken epoll descriptor fails here, and every socket on it would hang.
                Environment.FailFast($"epoll_wait failed: errno {Marshal.GetLastPInvokeError()}");
            }

            for (int i = 0; i < n; i++)
            {
                ulong data = events[i].Data;
                if (data == ProbeData)
                {
                    // The count is read back to zero before the probe counts as reached: the next
                    // probe can only be rung after that, so its write is a new edge. The other way
                    // round, a probe rung in between would be read away here, and epoll drops an
                    // edge whose descriptor reads empty by the time it is reported: lost for good.
                    Epoll.Quiet(_probe);
                    _lag.Reached(Stopwatch.GetTimestamp());
                    continue;
                }

                if (data == BellData)
                {
                    Epoll.Quiet(_bell);
                    // After the read: a ring from here on is a new edge. A full fence, not a plain store:
                    // the queue is read after it, and a store may pass a later load on x86.
                    Interlocked.Exchange(ref _bellRung, 0);
                    continue;
                }

                TcpSocket.Dispatch(data, events[i].Events);
            }

            // Second phase: the continuations, after every receive of the batch was made: a batch of
            // requests is read, then handled, as HAProxy's is (its I/O tasklets run before its streams).
            _handling = true;
            for (int i = 0; i < _readyCount; i++)
            {
                EpollOperation operation = _ready[i]!;
                _ready[i] = null;
                operation.Deliver();
            }

            // Taken whether or not the bell's event was in this batch: what a post between the
            // bell's read and here enqueued runs now, and its ring only wakes an empty round.
            while (_posted.TryDequeue(out (Action<object?> Callback, object? State) posted))
            {
                posted.Callback(posted.State);
            }

            _handling = false;
            _readyCount = 0;

            // Third phase: the sends the continuations handed over, back to back. Spaced by each
            // request's own work, as they were, the peers (wrk, nginx) caught up between two of
            // them and slept, and every next send paid a wake-up: twice HAProxy's per request
            // (scheduler tracepoints), and ~8 % of the engine's CPU per request (side by side).
            for (int i = 0; i < _sends.Count; i++)
            {
                _sends[i].SendDeferred();
            }

            _sends.Clear();
        }
    }

    /// <summary>
    /// Holds <paramref name="send"/> for the end of the batch when the caller is a continuation the
    /// loop runs now; false elsewhere (another thread, the loop between batches): send at once.
    /// </summary>
    internal static bool DeferSend(IDeferredSend send)
    {
        if (t_current is not { _handling: true } loop)
        {
            return false;
        }

        loop._sends.Add(send);
        return true;
    }

    /// <summary>
    /// Holds a completion an edge produced until the batch's events were all seen (the loop's thread
    /// only; false elsewhere, and the caller delivers it at once).
    /// </summary>
    internal static bool DeliverAfterBatch(EpollOperation operation)
    {
        if (t_current is not { } loop || loop._readyCount == loop._ready.Length)
        {
            return false;
        }

        loop._ready[loop._readyCount++] = operation;
        return true;
    }

    /// <summary>
    /// The longest any loop now takes to reach a new event (<see cref="LoopLag"/>): about how long a
    /// request arriving now waits before a loop reads it. Sends each loop that has none waiting a
    /// new probe (one eventfd write), so the next call sees it answered; meant to be called
    /// periodically (the overload monitor: every fifth of <c>Limits:MaxLoopLag</c>, 50–250 ms). Zero without loops.
    /// </summary>
    public static TimeSpan SampleLag()
    {
        EpollLoop[]? loops = Volatile.Read(ref s_loops);
        if (loops is null)
        {
            return TimeSpan.Zero;
        }

        long now = Stopwatch.GetTimestamp();
        long behind = 0;
        foreach (EpollLoop loop in loops)
        {
            if (loop._probe < 0)
            {
                continue;
            }

            long lag = loop._lag.Behind(now);
            Volatile.Write(ref loop._sampledLag, lag);
            behind = Math.Max(behind, lag);
            if (loop._lag.TrySend(now) && !Epoll.Ring(loop._probe))
            {
                loop._lag.NotSent();
            }
        }

        Volatile.Write(ref s_sampledMaxLag, behind);
        return Stopwatch.GetElapsedTime(0, behind);
    }

    /// <summary>
    /// The lag of the loop the caller runs on, as the last <see cref="SampleLag"/> found it: how
    /// long what this loop serves waits for it. Off the loops (a request that went on after an
    /// await on Redis, a timer), the longest of any loop. A read of a field, no clock.
    /// </summary>
    public static TimeSpan CurrentLag() =>
        Stopwatch.GetElapsedTime(0, t_current is { } loop ? Volatile.Read(ref loop._sampledLag) : Volatile.Read(ref s_sampledMaxLag));

    /// <summary>How many loops run (0 before the first socket joined one).</summary>
    public static int Count => Volatile.Read(ref s_loops)?.Length ?? 0;
}
