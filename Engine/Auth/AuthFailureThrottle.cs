using System.Collections.Concurrent;
using System.Net;

namespace Engine.Auth;

/// <summary>
/// Slows credential guessing from one address: after <c>Security:AuthFailuresPerMinute</c> failed
/// attempts within a minute, that address's further failures are answered only after
/// <see cref="Delay"/> and on a closed connection, so a brute-forcer gets one guess per delay per
/// connection. Correct credentials are never delayed (fleets share NAT addresses). The table is
/// bounded: past <see cref="MaxTracked"/> addresses it starts over rather than grow.
/// </summary>
internal sealed class AuthFailureThrottle
{
    /// <summary>fail2ban's and nginx limit_req's usual scale: a second per guess stops brute force, not typos.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    private const int MaxTracked = 100_000;

    private readonly ConcurrentDictionary<IPAddress, Window> _failures = new();
    private readonly TimeProvider _time;
    private readonly int _limit;
    private long _throttled;

    /// <param name="failuresPerMinute">0 = off.</param>
    public AuthFailureThrottle(int failuresPerMinute, TimeProvider time)
    {
        _limit = failuresPerMinute;
        _time = time;
    }

    public static AuthFailureThrottle Off { get; } = new(0, TimeProvider.System);

    /// <summary>Failures answered late (the metric).</summary>
    /// <summary>The budget this throttle was made with (<c>Security:AuthFailuresPerMinute</c>); 0: off.</summary>
    public int FailuresPerMinute => _limit;

    public long Throttled => Interlocked.Read(ref _throttled);

    /// <summary>Counts a failed attempt; true when this address is over its limit and the answer must be slowed.</summary>
    public bool RecordFailure(IPAddress client)
    {
        if (_limit <= 0)
        {
            return false;
        }

        if (_failures.Count > MaxTracked)
        {
            _failures.Clear();
        }

        long now = _time.GetTimestamp();
        long minute = _time.TimestampFrequency * 60;
        Window window = _failures.GetOrAdd(client, static (_, start) => new Window(start), now);
        lock (window)
        {
            if (now - window.Start >= minute)
            {
                window.Start = now;
                window.Count = 0;
            }

            if (++window.Count <= _limit)
            {
                return false;
            }
        }

        Interlocked.Increment(ref _throttled);
        return true;
    }

    private sealed class Window(long start)
    {
        public long Start = start;
        public int Count;
    }
}
