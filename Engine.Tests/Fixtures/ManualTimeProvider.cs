namespace Engine.Tests.Fixtures;

/// <summary>A clock that moves only when told, firing the timers that came due.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private readonly List<TimeSpan> _dueTimes = [];
    private long _now;

    /// <summary>The due time of every timer created so far, in order (a test waits for the one it expects).</summary>
    public IReadOnlyList<TimeSpan> CreatedDueTimes
    {
        get
        {
            lock (_timers)
            {
                return [.. _dueTimes];
            }
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _now);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state, Due(dueTime), period.Ticks);
        lock (_timers)
        {
            _timers.Add(timer);
            _dueTimes.Add(dueTime);
        }

        return timer;
    }

    private long Due(TimeSpan dueTime) => dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : GetTimestamp() + dueTime.Ticks;

    public void Advance(TimeSpan by)
    {
        Interlocked.Add(ref _now, by.Ticks);
        ManualTimer[] timers;
        lock (_timers)
        {
            timers = [.. _timers];
        }

        foreach (ManualTimer timer in timers)
        {
            timer.FireIfDue(GetTimestamp());
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state, long due, long period) : ITimer
    {
        private long _due = due;
        private long _period = period;
        private bool _disposed;

        public void FireIfDue(long now)
        {
            // Bounded: at most one firing per period elapsed, and a zero period fires once.
            for (int i = 0; i < 1000 && !_disposed && now >= _due; i++)
            {
                _due = _period > 0 ? _due + _period : long.MaxValue;
                callback(state);
            }
        }

        // A cancellation source with this clock re-arms its one timer through Change (CancelAfter).
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            _period = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
            _due = owner.Due(dueTime);
            return !_disposed;
        }

        public void Dispose() => _disposed = true;

        public ValueTask DisposeAsync()
        {
            _disposed = true;
            return ValueTask.CompletedTask;
        }
    }
}
