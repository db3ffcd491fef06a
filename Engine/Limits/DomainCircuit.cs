
namespace Engine.Limits;

/// <summary>
/// One (package, target domain) breaker: failures over a sliding window of ten buckets; above
/// <c>FailureRatio</c> with at least <c>MinRequests</c> it opens for <c>Cooldown</c>, then lets one
/// trial request through (half-open): its success closes the circuit, its failure reopens it.
/// </summary>
internal sealed class DomainCircuit
{
    private const int Buckets = 10;

    private readonly Lock _lock = new();
    private readonly CircuitBreakerOptions _options;
    private readonly long _bucketTicks;
    private readonly long _cooldownTicks;
    private readonly long _frequency;
    private readonly int[] _total = new int[Buckets];
    private readonly int[] _failed = new int[Buckets];
    private long _bucketStart;
    private int _current;
    private long _openUntil;
    private bool _halfOpen;
    private bool _trialInFlight;

    public DomainCircuit(CircuitBreakerOptions options, TimeProvider time, long now)
    {
        _options = options;
        _frequency = time.TimestampFrequency;
        _bucketTicks = Math.Max(1, (long)(options.Window.TotalSeconds * _frequency / Buckets));
        _cooldownTicks = (long)(options.Cooldown.TotalSeconds * _frequency);
        _bucketStart = now;
        LastUsed = now;
    }

    public long LastUsed { get; private set; }

    public bool IsOpen(long now)
    {
        lock (_lock)
        {
            return _openUntil > now || _halfOpen;
        }
    }

    /// <summary>May a request go to this domain now? When not, how many seconds until the next trial.</summary>
    public bool TryPass(long now, out int retryAfterSeconds, out bool isTrial)
    {
        retryAfterSeconds = 0;
        isTrial = false;
        lock (_lock)
        {
            LastUsed = now;
            if (_openUntil > now)
            {
                retryAfterSeconds = (int)Math.Max(1, (_openUntil - now + _frequency - 1) / _frequency);
                return false;
            }

            if (_openUntil != 0 && !_halfOpen)
            {
                _halfOpen = true;   // cool-down over
            }

            if (_halfOpen)
            {
                if (_trialInFlight)
                {
                    retryAfterSeconds = 1;
                    return false;
                }

                _trialInFlight = true;
                isTrial = true;
            }

            return true;
        }
    }

    public void Record(CircuitOutcome outcome, bool isTrial, long now)
    {
        lock (_lock)
        {
            if (isTrial)
            {
                _trialInFlight = false;
                if (outcome == CircuitOutcome.Success)
                {
                    _halfOpen = false;
                    _openUntil = 0;
                    Array.Clear(_total);
                    Array.Clear(_failed);
                    _bucketStart = now;
                }
                else if (outcome == CircuitOutcome.Failure)
                {
                    _halfOpen = false;
                    _openUntil = now + _cooldownTicks;
                }

                return;
            }

            if (outcome == CircuitOutcome.Neutral || _halfOpen || _openUntil > now)
            {
                return;
            }

            Advance(now);
            _total[_current]++;
            if (outcome == CircuitOutcome.Failure)
            {
                _failed[_current]++;
            }

            int total = 0;
            int failed = 0;
            for (int i = 0; i < Buckets; i++)
            {
                total += _total[i];
                failed += _failed[i];
            }

            // "More than" the ratio, over at least MinRequests (the proxy error codes guide).
            if (total >= _options.MinRequests && failed > _options.FailureRatio * total)
            {
                _openUntil = now + _cooldownTicks;
            }
        }
    }

    private void Advance(long now)
    {
        long steps = (now - _bucketStart) / _bucketTicks;
        if (steps <= 0)
        {
            return;
        }

        for (long i = 0; i < Math.Min(steps, Buckets); i++)
        {
            _current = (_current + 1) % Buckets;
            _total[_current] = 0;
            _failed[_current] = 0;
        }

        _bucketStart += steps * _bucketTicks;
    }
}
