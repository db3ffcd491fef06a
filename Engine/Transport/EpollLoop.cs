using System.Runtime.InteropServices;

namespace Engine.Transport;

/// <summary>
/// An epoll instance and the thread that waits on it: the engine's own event loop for data-path
/// sockets. One per processor the process saw at start; each socket joins one loop at its first
/// wait (the loop it was touched from, else the next in turn) and stays there, and its waiting operations resume on that loop's thread, as
/// the runtime's sockets did with <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c>.
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

    private readonly int _epoll;

    private EpollLoop(int epoll, int index)
    {
        _epoll = epoll;
        var thread = new Thread(Run) { IsBackground = true, Name = $"epoll {index}" };
        thread.UnsafeStart();
    }

    public int Descriptor => _epoll;

    [ThreadStatic]
    private static EpollLoop? t_current;

    /// <summary>
    /// The loop the next socket joins: the caller's own when it runs on one (an upstream socket
    /// joins its client's loop, so a request's events never cross threads), else the next in turn.
    /// </summary>
    public static EpollLoop Next()
    {
        if (t_current is { } current)
        {
            return current;
        }

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
                TcpSocket.Dispatch(events[i].Data, events[i].Events);
            }
        }
    }
}
