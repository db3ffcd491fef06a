namespace Engine.Transport;

/// <summary>
/// How long an event loop takes to reach an event that becomes ready now, measured with a probe:
/// the sampler rings the loop's eventfd and notes the time; the kernel queues that event behind
/// whatever else is ready, and the loop notes when it reaches it. The lag is the last probe's
/// delay, or the age of the probe still waiting when that is longer (a loop stuck in one long
/// round). One probe at a time per loop. Timestamps are <see cref="System.Diagnostics.Stopwatch"/>'s,
/// passed in; the sampler and the loop are different threads.
/// </summary>
/// <remarks>
/// Why a probe and not "busy since": with thousands of connections each waiting for its answer,
/// a saturated loop never has a short round, yet every event still waits only one pass over the
/// ready list (tens of milliseconds). The probe waits exactly what a new request would.
/// </remarks>
internal struct LoopLag
{
    private long _sentAt;      // the waiting probe's send time; 0: none waits
    private long _lastDelay;   // the last probe's delay

    /// <summary>The sampler's side: claims the one probe; true when it should be sent now.</summary>
    public bool TrySend(long now) => Interlocked.CompareExchange(ref _sentAt, Math.Max(now, 1), 0) == 0;

    /// <summary>The probe could not be sent (the eventfd write failed): nothing waits.</summary>
    public void NotSent() => Volatile.Write(ref _sentAt, 0);

    /// <summary>The loop's side: it reached the probe at <paramref name="now"/>.</summary>
    public void Reached(long now)
    {
        long sent = Interlocked.Exchange(ref _sentAt, 0);
        if (sent != 0)
        {
            Volatile.Write(ref _lastDelay, Math.Max(0, now - sent));
        }
    }

    /// <summary>The lag at <paramref name="now"/>, in timestamp units.</summary>
    public long Behind(long now)
    {
        long sent = Volatile.Read(ref _sentAt);
        long waiting = sent == 0 ? 0 : Math.Max(0, now - sent);
        return Math.Max(waiting, Volatile.Read(ref _lastDelay));
    }
}
