namespace Engine.Limits;

/// <summary>
/// Sheds new requests before the box falls over: every 50 ms it samples the work waiting to run
/// and, while there is too much, new requests get 503 OVERLOADED with Retry-After instead of
/// waiting in line. Requests already admitted carry on. The check on the request path is one read.
/// Two measures of "waiting", each with its own ceiling:
/// <list type="bullet">
/// <item>the event loops' lag (<c>Limits:MaxLoopLag</c>): how long a loop takes to reach a new
/// event (<c>Transport/LoopLag</c>'s probe). The data path runs on the loops, so this is where a
/// saturated engine shows: a request arriving now waits about that long before it is even read.</item>
/// <item>the thread pool's queue (<c>Limits:MaxPendingWork</c>): the work that runs off the loops
/// (TLS listeners, the runtime's sockets where the loops are off, timers, the admin side); ASP.NET's
/// requestQueueLimit, 5000 by default, is the same idea.</item>
/// </list>
/// </summary>
internal sealed class OverloadMonitor : IDisposable
{
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(50);

    private readonly Func<long> _pendingWork;
    private readonly Func<TimeSpan> _loopLag;
    private readonly long _threshold;
    private readonly TimeSpan _maxLoopLag;
    private readonly ITimer? _timer;
    private volatile bool _shedding;
    private long _shed;
    private long _loopLagTicks;

    /// <param name="threshold">Thread-pool work items waiting above which requests are shed; 0: not checked.</param>
    /// <param name="maxLoopLag">How long an event loop may take to reach a new event before requests are shed; zero: not checked.</param>
    /// <param name="pendingWork">The queue's length (a test's seam; the thread pool's by default).</param>
    /// <param name="loopLag">The loops' lag (a test's seam; none by default: the host passes the engine's loops').</param>
    public OverloadMonitor(long threshold, TimeSpan maxLoopLag, TimeProvider time, Func<long>? pendingWork = null, Func<TimeSpan>? loopLag = null)
    {
        _threshold = threshold;
        _maxLoopLag = maxLoopLag;
        _pendingWork = pendingWork ?? (static () => ThreadPool.PendingWorkItemCount);
        _loopLag = loopLag ?? (static () => TimeSpan.Zero);
        if (threshold > 0 || maxLoopLag > TimeSpan.Zero)
        {
            _timer = time.CreateTimer(static s => ((OverloadMonitor)s!).Sample(), this, SamplePeriod, SamplePeriod);
        }
    }

    public static OverloadMonitor Off { get; } = new(0, TimeSpan.Zero, TimeProvider.System);

    /// <summary>True while new requests are refused.</summary>
    public bool IsShedding => _shedding;

    /// <summary>Requests refused so far (the metric).</summary>
    public long Shed => Interlocked.Read(ref _shed);

    /// <summary>The loops' lag at the last sample (the metric); zero while it is not checked.</summary>
    public TimeSpan LoopLag => TimeSpan.FromTicks(Interlocked.Read(ref _loopLagTicks));

    public void Sample()
    {
        TimeSpan lag = _maxLoopLag > TimeSpan.Zero ? _loopLag() : TimeSpan.Zero;
        Interlocked.Exchange(ref _loopLagTicks, lag.Ticks);
        _shedding = (_threshold > 0 && _pendingWork() > _threshold) || (_maxLoopLag > TimeSpan.Zero && lag > _maxLoopLag);
    }

    public void CountShed() => Interlocked.Increment(ref _shed);

    public void Dispose() => _timer?.Dispose();
}
