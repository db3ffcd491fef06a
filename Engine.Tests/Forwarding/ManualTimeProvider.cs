namespace Engine.Tests.Forwarding;

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
        var timer = new ManualTimer(callback, state, GetTimestamp() + dueTime.Ticks, period.Ticks);
        lock (_timers)
        {
            _timers.Add(timer);
            _dueTimes.Add(dueTime);
        }

        return timer;
    }

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

    private sealed class ManualTimer(TimerCallback callback, object? state, long due, long period) : ITimer
    {
        private long _due = due;
        private bool _disposed;

        public void FireIfDue(long now)
        {
            // Bounded: at most one firing per period elapsed, and a zero period fires once.
            for (int i = 0; i < 1000 && !_disposed && now >= _due; i++)
            {
                _due = period > 0 ? _due + period : long.MaxValue;
                callback(state);
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period) => false;

        public void Dispose() => _disposed = true;

        public ValueTask DisposeAsync()
        {
            _disposed = true;
            return ValueTask.CompletedTask;
        }
    }
}
