namespace Engine.Tunnel;

/// <summary>
/// One timer for the idle checks of every running tunnel with the same clock and period, instead
/// of a timer per tunnel. A timer per tunnel was ~150 B held by every idle tunnel, plus its
/// creation and disposal under the runtime's timer-queue lock at every tunnel's start and end;
/// here a tunnel joins and leaves a linked list (its own two fields) and one tick walks the list.
/// </summary>
/// <remarks>
/// Sweeps exist while tunnels run: the last one to leave disposes the timer. One lock guards every
/// sweep's list; a tick holds it while it walks (a few nanoseconds per tunnel, a few times per
/// idle period).
/// </remarks>
internal sealed class IdleSweep
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<(TimeProvider Time, TimeSpan Period), IdleSweep> s_sweeps = [];

    private readonly (TimeProvider Time, TimeSpan Period) _key;
    private readonly ITimer _timer;
    private TunnelRelay? _first;

    private IdleSweep((TimeProvider Time, TimeSpan Period) key)
    {
        _key = key;
        _timer = key.Time.CreateTimer(static s => ((IdleSweep)s!).Tick(), this, key.Period, key.Period);
    }

    /// <summary>Checks <paramref name="relay"/> every <paramref name="period"/> of <paramref name="time"/> until it leaves.</summary>
    public static IdleSweep Join(TunnelRelay relay, TimeProvider time, TimeSpan period)
    {
        lock (s_lock)
        {
            if (!s_sweeps.TryGetValue((time, period), out IdleSweep? sweep))
            {
                sweep = new IdleSweep((time, period));
                s_sweeps.Add(sweep._key, sweep);
            }

            relay.SweepPrevious = null;
            relay.SweepNext = sweep._first;
            if (sweep._first is not null)
            {
                sweep._first.SweepPrevious = relay;
            }

            sweep._first = relay;
            return sweep;
        }
    }

    /// <summary>Stops checking <paramref name="relay"/>; the last tunnel to leave stops the timer.</summary>
    public void Leave(TunnelRelay relay)
    {
        lock (s_lock)
        {
            if (relay.SweepPrevious is null && _first != relay)
            {
                return;   // left already
            }

            if (relay.SweepPrevious is null)
            {
                _first = relay.SweepNext;
            }
            else
            {
                relay.SweepPrevious.SweepNext = relay.SweepNext;
            }

            if (relay.SweepNext is not null)
            {
                relay.SweepNext.SweepPrevious = relay.SweepPrevious;
            }

            relay.SweepPrevious = relay.SweepNext = null;
            if (_first is null)
            {
                _timer.Dispose();
                s_sweeps.Remove(_key);
            }
        }
    }

    private void Tick()
    {
        lock (s_lock)
        {
            // The next one is read first: a check that ends its tunnel may take it off the list
            // on this thread (the lock is re-entrant), never another one.
            for (TunnelRelay? relay = _first; relay is not null;)
            {
                TunnelRelay? next = relay.SweepNext;
                relay.CheckIdle();
                relay = next;
            }
        }
    }
}
