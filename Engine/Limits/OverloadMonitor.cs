namespace Engine.Limits;

/// <summary>
/// Sheds new requests before the box falls over: periodically (<see cref="SamplePeriodFor"/>) it samples the work waiting to run
/// and, while there is too much, new requests get 503 OVERLOADED with Retry-After instead of
/// waiting in line. Requests already admitted carry on. The check on the request path is one read
/// while no loop is behind. Two measures of "waiting", each with its own ceiling:
/// <list type="bullet">
/// <item>the event loops' lag (<c>Limits:MaxLoopLag</c>): how long a loop takes to reach a new
/// event (<c>Transport/LoopLag</c>'s probe). The data path runs on the loops, so this is where a
/// saturated engine shows: a request arriving now waits about that long before it is even read.
/// Per loop: a request is shed when the loop it is read on is behind, so one saturated loop (a
/// heavy client, a slow handler) does not turn away the requests another loop serves in time; a
/// request checked off the loops (after an await on Redis) goes by the longest lag.</item>
/// <item>the thread pool's queue (<c>Limits:MaxPendingWork</c>): the work that runs off the loops
/// (TLS listeners, the runtime's sockets where the loops are off, timers, the admin side); ASP.NET's
/// requestQueueLimit, 5000 by default, is the same idea.</item>
/// </list>
/// </summary>
internal sealed class OverloadMonitor : IDisposable
{
    private static readonly TimeSpan MinSamplePeriod = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxSamplePeriod = TimeSpan.FromMilliseconds(250);

    private readonly Func<long> _pendingWork;
    private readonly Func<TimeSpan> _loopLag;
    private readonly long _threshold;
    private readonly TimeSpan _maxLoopLag;
    private readonly ITimer? _timer;
    private readonly Func<TimeSpan> _currentLoopLag;
    private volatile bool _queueShedding;
    private volatile bool _anyLoopBehind;
    private long _shed;
    private long _loopLagTicks;

    /// <param name="threshold">Thread-pool work items waiting above which requests are shed; 0: not checked.</param>
    /// <param name="maxLoopLag">How long an event loop may take to reach a new event before requests are shed; zero: not checked.</param>
    /// <param name="pendingWork">The queue's length (a test's seam; the thread pool's by default).</param>
    /// <param name="loopLag">Samples the loops' lag, the longest (a test's seam; none by default: the host passes the engine's loops').</param>
    /// <param name="currentLoopLag">The sampled lag of the loop the caller runs on (the engine's: <c>EpollLoop.CurrentLag</c>); by default the longest.</param>
    public OverloadMonitor(long threshold, TimeSpan maxLoopLag, TimeProvider time, Func<long>? pendingWork = null, Func<TimeSpan>? loopLag = null,
        Func<TimeSpan>? currentLoopLag = null)
    {
        _threshold = threshold;
        _maxLoopLag = maxLoopLag;
        _pendingWork = pendingWork ?? (static () => ThreadPool.PendingWorkItemCount);
        _loopLag = loopLag ?? (static () => TimeSpan.Zero);
        _currentLoopLag = currentLoopLag ?? (() => LoopLag);
        if (threshold > 0 || maxLoopLag > TimeSpan.Zero)
        {
            TimeSpan period = SamplePeriodFor(maxLoopLag);
            _timer = time.CreateTimer(static s => ((OverloadMonitor)s!).Sample(), this, period, period);
        }
    }

    public static OverloadMonitor Off { get; } = new(0, TimeSpan.Zero, TimeProvider.System);

    /// <summary>
    /// A fifth of the lag ceiling, within 50–250 ms (200 ms for the default 1 s; 250 ms when only the
    /// queue is checked): a loop past its ceiling is noticed within a fifth of it. Each sample wakes
    /// the runtime's timer thread and a pool worker, and rings every loop: at a fixed 50 ms that was
    /// ~0.7 % of a core on an idle engine, and as many preemptions of the loop on a pinned core.
    /// </summary>
    internal static TimeSpan SamplePeriodFor(TimeSpan maxLoopLag) =>
        maxLoopLag > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Clamp(maxLoopLag.Ticks / 5, MinSamplePeriod.Ticks, MaxSamplePeriod.Ticks)) : MaxSamplePeriod;

    /// <summary>
    /// True while new requests are refused here: the thread pool's queue is too long, or the loop
    /// the caller runs on is behind (only looked up while some loop is).
    /// </summary>
    public bool IsShedding => _queueShedding || (_anyLoopBehind && _currentLoopLag() > _maxLoopLag);

    /// <summary>Requests refused so far (the metric).</summary>
    public long Shed => Interlocked.Read(ref _shed);

    /// <summary>The loops' lag at the last sample (the metric); zero while it is not checked.</summary>
    public TimeSpan LoopLag => TimeSpan.FromTicks(Interlocked.Read(ref _loopLagTicks));

    public void Sample()
    {
        TimeSpan lag = _maxLoopLag > TimeSpan.Zero ? _loopLag() : TimeSpan.Zero;
        Interlocked.Exchange(ref _loopLagTicks, lag.Ticks);
        _queueShedding = _threshold > 0 && _pendingWork() > _threshold;
        _anyLoopBehind = _maxLoopLag > TimeSpan.Zero && lag > _maxLoopLag;
    }

    public void CountShed() => Interlocked.Increment(ref _shed);

    public void Dispose() => _timer?.Dispose();
}
