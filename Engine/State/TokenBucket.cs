namespace Engine.State;

/// <summary>
/// One package's request bucket in this process, as GCRA (the generic cell rate algorithm, the
/// virtual-scheduling form of a token bucket): capacity = rate (one second of burst), one token
/// every 1/rate s. It keeps one timestamp, the theoretical arrival time, so no refill is ever
/// rounded away; a refill-counting bucket lost up to 6% of its rate to truncation under load.
/// </summary>
internal sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private long _theoreticalArrival;

    public TokenBucket(int ratePerSecond, long now)
    {
        Rate = ratePerSecond;
        _theoreticalArrival = now;
    }

    public int Rate { get; private set; }

    public RateDecision TryTake(int ratePerSecond, long now, long frequency)
    {
        long interval = Math.Max(1, frequency / ratePerSecond);
        long tolerance = interval * (ratePerSecond - 1);   // burst: a full bucket admits `rate` at once
        lock (_lock)
        {
            Rate = ratePerSecond;
            long arrival = Math.Max(_theoreticalArrival, now);
            if (arrival - now > tolerance)
            {
                // Whole seconds until a token is there (Retry-After has second granularity).
                long wait = arrival - tolerance - now;
                return new RateDecision(false, (int)Math.Max(1, (wait + frequency - 1) / frequency));
            }

            _theoreticalArrival = arrival + interval;
            return RateDecision.Admit;
        }
    }
}
