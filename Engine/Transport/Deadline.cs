namespace Engine.Transport;

/// <summary>
/// The deadline of one phase at a time on a connection (the next request head, a response head, a
/// body read, a linger): <see cref="Arm"/> gives a token that is cancelled once the phase has run
/// for its timeout, <see cref="Clear"/> ends the phase in time.
/// </summary>
/// <remarks>
/// <para>
/// A <see cref="CancellationTokenSource"/> re-armed per phase (<c>CancelAfter</c>, then
/// <c>TryReset</c>) moves a runtime timer each time, under the timer queue's lock: five to seven
/// times per keep-alive request, the largest single cost of the request path's own code after the
/// socket calls (<c>Lock.Enter</c>/<c>Exit</c> and <c>TimerQueueTimer.Change</c>, ~1.5 % of a
/// profile). Here arming and clearing are a field exchange each. The timer is moved only when a
/// phase must end earlier than the time it is set for; when it fires for a phase that is over or
/// runs later, it is set again for that phase's end, or left alone. On a busy keep-alive
/// connection that is one timer move per timeout period instead of several per request.
/// </para>
/// <para>
/// A firing that finds its phase due claims it (<c>_due</c> to <see cref="Fired"/>) before it
/// cancels, so a phase that ended at the same moment can tell: its source may be cancelled any
/// time now, and the next phase gets a new one. Precision is the timer's own: the token is
/// cancelled at the phase's end, not at a sweep's next round.
/// </para>
/// </remarks>
internal sealed class Deadline : IDisposable
{
    private const long Cleared = long.MaxValue;
    private const long Fired = long.MinValue;
    private const long MaxWait = long.MaxValue / 4;

    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly long _timestampsPerTick;   // 0: the clock's frequency is not a whole multiple of TimeSpan's
    private readonly Lock _lock = new();   // the timer's side: setting it, a firing's claim, a new source after one; never per request
    private CancellationTokenSource _source = new();
    private long _due = Cleared;   // the armed phase's end (a timestamp), Cleared, or Fired (claimed by a firing)
    private long _timerAt;         // when the timer is set to fire (a timestamp); 0: not set

    public Deadline(TimeProvider time)
    {
        _time = time;
        _timestampsPerTick = time.TimestampFrequency % TimeSpan.TicksPerSecond == 0 ? time.TimestampFrequency / TimeSpan.TicksPerSecond : 0;
        _timer = time.CreateTimer(static state => ((Deadline)state!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public TimeProvider Time => _time;

    /// <summary>Starts a phase that must end within <paramref name="timeout"/> (infinite: no deadline), ending the last one.</summary>
    public CancellationToken Arm(TimeSpan timeout)
    {
        long due = timeout == Timeout.InfiniteTimeSpan ? Cleared : _time.GetTimestamp() + ToTimestamp(timeout);

        // A full fence: _timerAt is read after this store, as Tick reads _due after clearing _timerAt.
        if (Interlocked.Exchange(ref _due, due) == Fired)
        {
            Renew();
        }

        if (due != Cleared)
        {
            long at = Volatile.Read(ref _timerAt);
            if (at == 0 || at > due)
            {
                lock (_lock)
                {
                    SetTimer(due);
                }
            }
        }

        return _source.Token;
    }

    /// <summary>The phase ended in time.</summary>
    public void Clear()
    {
        if (Interlocked.Exchange(ref _due, Cleared) == Fired)
        {
            Renew();
        }
    }

    /// <summary>
    /// Ends the armed phase now, as its deadline would (the shutdown's cut, from any thread): its
    /// token is cancelled. Nothing armed: nothing happens, and the next phase starts as usual.
    /// </summary>
    public void Expire()
    {
        CancellationTokenSource? expired = null;
        lock (_lock)
        {
            long due = Volatile.Read(ref _due);
            if (due is not (Cleared or Fired) && Interlocked.CompareExchange(ref _due, Fired, due) == due)
            {
                expired = _source;
            }
        }

        expired?.Cancel();
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _due, Cleared);
        _timer.Dispose();
    }

    // The last phase's deadline fired: its source is cancelled, or is about to be. The next phase
    // gets a new one — unless a firing claimed that phase too before this ran (its owner stalled
    // for a whole timeout in between): the claim cancelled the old source, so the new one is
    // cancelled here.
    private void Renew()
    {
        lock (_lock)
        {
            var fresh = new CancellationTokenSource();
            _source = fresh;
            if (Volatile.Read(ref _due) == Fired)
            {
                fresh.Cancel();
            }
        }
    }

    private void SetTimer(long due)
    {
        long at = _timerAt;
        if (at != 0 && at <= due)
        {
            return;   // already set to fire in time (the other side set it meanwhile)
        }

        _timerAt = due;
        long wait = due - _time.GetTimestamp();
        // Runtime timers take at most ~49 days: a longer phase is looked at again after a day.
        TimeSpan after = wait <= 0 ? TimeSpan.Zero : ToTimeSpan(wait);
        _timer.Change(after < TimeSpan.FromDays(1) ? after : TimeSpan.FromDays(1), Timeout.InfiniteTimeSpan);
    }

    private void Tick()
    {
        CancellationTokenSource? expired = null;
        lock (_lock)
        {
            Interlocked.Exchange(ref _timerAt, 0);   // from here an Arm sets the timer itself
            long due = Volatile.Read(ref _due);
            if (due is Cleared or Fired)
            {
                return;
            }

            if (_time.GetTimestamp() < due)
            {
                SetTimer(due);   // the phase was re-armed for later since the timer was set
                return;
            }

            if (Interlocked.CompareExchange(ref _due, Fired, due) == due)
            {
                expired = _source;
            }
        }

        expired?.Cancel();   // outside the lock: the cancelled read's continuation runs here
    }

    // Integer arithmetic when the clock counts whole multiples of TimeSpan ticks (1 ns and 100 ns
    // clocks): the double conversion was a third of Arm's own time.
    // Capped far in the future (decades), so a configured TimeSpan.MaxValue cannot overflow into the past.
    private long ToTimestamp(TimeSpan span) => _timestampsPerTick > 0 && span.Ticks < MaxWait / _timestampsPerTick
        ? span.Ticks * _timestampsPerTick
        : (long)Math.Min(span.TotalSeconds * _time.TimestampFrequency, MaxWait);

    private TimeSpan ToTimeSpan(long timestamps) => TimeSpan.FromSeconds((double)timestamps / _time.TimestampFrequency);
}
