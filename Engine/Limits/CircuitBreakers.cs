using System.Collections.Concurrent;
using Engine.Auth;

namespace Engine.Limits;

/// <summary>
/// Every package's per-domain breakers (opt-in per package). Circuits are made on first use and
/// dropped by a periodic sweep once closed and unused for a window, so the map tracks the domains
/// in use, not every domain ever seen.
/// </summary>
internal sealed class CircuitBreakers : IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<(string Package, string Domain), DomainCircuit> _circuits = new();
    private readonly TimeProvider _time;
    private readonly ITimer _sweep;

    public CircuitBreakers(TimeProvider time)
    {
        _time = time;
        _sweep = time.CreateTimer(static s => ((CircuitBreakers)s!).Sweep(), this, SweepInterval, SweepInterval);
    }

    public int Count => _circuits.Count;

    /// <summary>The package's circuit for <paramref name="domain"/>, or null when the package has no breaker.</summary>
    public DomainCircuit? For(Package package, string domain)
    {
        if (package.Limits.CircuitBreaker is not { } options)
        {
            return null;
        }

        return _circuits.GetOrAdd((package.Id, domain),
            static (_, state) => new DomainCircuit(state.Options, state.Time, state.Time.GetTimestamp()), (Options: options, Time: _time));
    }

    public void Sweep()
    {
        long now = _time.GetTimestamp();
        long idle = (long)(TimeSpan.FromMinutes(10).TotalSeconds * _time.TimestampFrequency);
        foreach (KeyValuePair<(string Package, string Domain), DomainCircuit> pair in _circuits)
        {
            if (!pair.Value.IsOpen(now) && now - pair.Value.LastUsed > idle)
            {
                _circuits.TryRemove(pair);
            }
        }
    }

    public void Dispose() => _sweep.Dispose();
}
