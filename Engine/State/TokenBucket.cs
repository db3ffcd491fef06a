namespace Engine.State;

/// <summary>
/// One package's request bucket in this process: capacity = rate (one second of burst), refilled
/// continuously. Tokens are kept in millitokens so refills of a few milliseconds are not lost.
/// </summary>
internal sealed class TokenBucket
{
    private const long Scale = 1000;

    private readonly Lock _lock = new();
    private long _milliTokens;
    private long _last;

    public TokenBucket(int ratePerSecond, long now)
    {
        Rate = ratePerSecond;
        _milliTokens = ratePerSecond * Scale;
        _last = now;
    }

    public int Rate { get; private set; }

    public RateDecision TryTake(int ratePerSecond, long now, long frequency)
    {
        lock (_lock)
        {
            if (ratePerSecond != Rate)
            {
                // A reload changed the rate: keep the fill level, cap it at the new capacity.
                Rate = ratePerSecond;
                _milliTokens = Math.Min(_milliTokens, ratePerSecond * Scale);
            }

            long elapsed = now - _last;
            if (elapsed > 0)
            {
                long refill = elapsed * ratePerSecond * Scale / frequency;
                if (refill > 0)
                {
                    _milliTokens = Math.Min(ratePerSecond * Scale, _milliTokens + refill);
                    _last = now;
                }
            }

            if (_milliTokens >= Scale)
            {
                _milliTokens -= Scale;
                return RateDecision.Admit;
            }

            // Whole seconds until one token has refilled (Retry-After has second granularity).
            long missing = Scale - _milliTokens;
            long waitTicks = (missing * frequency) / (ratePerSecond * Scale);
            int seconds = (int)Math.Max(1, (waitTicks + frequency - 1) / frequency);
            return new RateDecision(false, seconds);
        }
    }
}
