namespace Engine.Limits;

/// <summary>
/// Sheds new requests before the box falls over: samples the thread pool's queue every 50 ms and,
/// while more work items wait than <c>Limits:MaxPendingWork</c>, new requests get 503 OVERLOADED
/// with Retry-After instead of joining the queue (ASP.NET's requestQueueLimit, 5000 by default, is
/// the same idea). Requests already admitted carry on. The check on the request path is one read.
/// </summary>
internal sealed class OverloadMonitor : IDisposable
{
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(50);

    private readonly Func<long> _pendingWork;
    private readonly long _threshold;
    private readonly ITimer? _timer;
    private volatile bool _shedding;
    private long _shed;

    public OverloadMonitor(long threshold, TimeProvider time, Func<long>? pendingWork = null)
    {
        _threshold = threshold;
        _pendingWork = pendingWork ?? (static () => ThreadPool.PendingWorkItemCount);
        if (threshold > 0)
        {
            _timer = time.CreateTimer(static s => ((OverloadMonitor)s!).Sample(), this, SamplePeriod, SamplePeriod);
        }
    }

    public static OverloadMonitor Off { get; } = new(0, TimeProvider.System);

    /// <summary>True while new requests are refused.</summary>
    public bool IsShedding => _shedding;

    /// <summary>Requests refused so far (the metric).</summary>
    public long Shed => Interlocked.Read(ref _shed);

    public void Sample() => _shedding = _threshold > 0 && _pendingWork() > _threshold;

    public void CountShed() => Interlocked.Increment(ref _shed);

    public void Dispose() => _timer?.Dispose();
}
