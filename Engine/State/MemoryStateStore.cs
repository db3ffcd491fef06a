using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.State;

/// <summary>
/// <c>State:Store = memory</c>: everything in this process (the default; one instance, no
/// dependency). Also the local state a shared store falls back to while it is degraded.
/// </summary>
internal sealed class MemoryStateStore : IStateStore
{
    private readonly ConcurrentDictionary<string, TokenBucket> _buckets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox<long>> _traffic = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private long _credits;

    public MemoryStateStore(TimeProvider time, ISessionStore? sessions = null)
    {
        _time = time;
        Sessions = sessions ?? new MemorySessionStore(time);
    }

    public ISessionStore Sessions { get; }

    public long CreditsUsed => Volatile.Read(ref _credits);

    public bool IsDegraded => false;

    public ValueTask<RateDecision> TakeTokenAsync(string packageId, int ratePerSecond) => ValueTask.FromResult(TakeToken(packageId, ratePerSecond));

    public RateDecision TakeToken(string packageId, int ratePerSecond)
    {
        long now = _time.GetTimestamp();
        TokenBucket bucket = _buckets.GetOrAdd(packageId, static (_, state) => new TokenBucket(state.Rate, state.Now), (Rate: ratePerSecond, Now: now));
        return bucket.TryTake(ratePerSecond, now, _time.TimestampFrequency);
    }

    public void AddTraffic(string packageId, long bytes)
    {
        if (bytes <= 0)
        {
            return;
        }

        StrongBox<long> used = _traffic.GetOrAdd(packageId, static _ => new StrongBox<long>());
        Interlocked.Add(ref used.Value, bytes);
        Interlocked.Add(ref _credits, bytes);
    }

    public long TrafficUsed(string packageId) =>
        _traffic.TryGetValue(packageId, out StrongBox<long>? used) ? Volatile.Read(ref used.Value) : 0;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
