using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Engine.Auth;
using Engine.State;

namespace Engine.Limits;

/// <summary>
/// Admits or refuses each request or tunnel of a package before a node is chosen: credit pool,
/// traffic cap, concurrency, then the rate (a token is taken last, so a request refused for
/// another reason does not spend one). Concurrency is counted per instance; the rest lives in
/// the <see cref="IStateStore"/> and is shared when that store is.
/// </summary>
internal sealed class RequestLimiter
{
    private readonly IStateStore _state;
    private readonly TrafficPeriods _periods;
    private long _creditPoolBytes;   // -1 = unlimited; a reload may change it
    private readonly ConcurrentDictionary<string, StrongBox<int>> _inFlight = new(StringComparer.Ordinal);

    public RequestLimiter(IStateStore state, long? creditPoolBytes, TimeProvider? time = null)
    {
        _state = state;
        _creditPoolBytes = creditPoolBytes ?? -1;
        _periods = new TrafficPeriods(time ?? TimeProvider.System, state.RetireTraffic);
    }

    public IStateStore State => _state;

    public long? CreditPoolBytes
    {
        get => Volatile.Read(ref _creditPoolBytes) is long pool and >= 0 ? pool : null;
        set => Volatile.Write(ref _creditPoolBytes, value ?? -1);
    }

    /// <summary>Requests and tunnels of the package in flight on this instance.</summary>
    public int InFlight(string packageId) => _inFlight.TryGetValue(packageId, out StrongBox<int>? count) ? Volatile.Read(ref count.Value) : 0;

    /// <summary>
    /// Checks every limit. <paramref name="entered"/> is true when the request now counts toward
    /// <c>MaxConcurrent</c>: the caller must <see cref="Leave"/> when it ends. RetryAfterSeconds is the wait a
    /// refusal announces: the token bucket's refill, 1 s for concurrency, the seconds until a periodic traffic
    /// cap resets (<c>TrafficPeriod</c>), and -1 where waiting does not help (a lifetime cap, the credit pool).
    /// </summary>
    public async ValueTask<(Admission Verdict, int RetryAfterSeconds, bool Entered)> AdmitAsync(Package package)
    {
        if (CreditPoolBytes is long pool && _state.CreditsUsed >= pool)
        {
            return (Admission.NoCredits, -1, false);
        }

        PackageLimits limits = package.Limits;
        if (limits.TrafficLimitBytes is long cap && TrafficUsed(package) >= cap)
        {
            return (Admission.TrafficExceeded, _periods.SecondsUntilReset(limits.TrafficPeriod), false);
        }

        bool entered = false;
        if (limits.MaxConcurrent is int max)
        {
            StrongBox<int> count = _inFlight.GetOrAdd(package.Id, static _ => new StrongBox<int>());
            if (Interlocked.Increment(ref count.Value) > max)
            {
                Interlocked.Decrement(ref count.Value);
                // Nothing says when a slot frees up; a second is the smallest Retry-After there is.
                return (Admission.TooManyConcurrent, 1, false);
            }

            entered = true;
        }

        if (limits.RequestsPerSecond is int rate)
        {
            RateDecision decision;
            try
            {
                ValueTask<RateDecision> take = _state.TakeTokenAsync(package.Id, rate);
                decision = take.IsCompletedSuccessfully ? take.Result : await take.ConfigureAwait(false);
            }
            catch when (entered)
            {
                // The caller sees no Entered flag on a throw, so nobody else could give the slot back.
                Leave(package);
                throw;
            }

            if (!decision.Allowed)
            {
                if (entered)
                {
                    Leave(package);
                }

                return (Admission.TooManyPerSecond, decision.RetryAfterSeconds, false);
            }
        }

        return (Admission.Admitted, -1, entered);
    }

    public void Leave(Package package)
    {
        if (_inFlight.TryGetValue(package.Id, out StrongBox<int>? count))
        {
            Interlocked.Decrement(ref count.Value);
        }
    }

    /// <summary>The package's traffic in the current period (its whole life without a <c>TrafficPeriod</c>).</summary>
    public long TrafficUsed(Package package) => _state.TrafficUsed(_periods.CounterKey(package));

    /// <summary>Counts <paramref name="bytes"/> against the package's cap in the current period.</summary>
    public void AddTraffic(Package package, long bytes) => _state.AddTraffic(_periods.CounterKey(package), bytes);

    /// <summary>True while the package may still move bytes: its cap and the credit pool are not used up.</summary>
    public bool HasTrafficLeft(Package package) =>
        (package.Limits.TrafficLimitBytes is not long cap || TrafficUsed(package) < cap)
        && (CreditPoolBytes is not long pool || _state.CreditsUsed < pool);
}
