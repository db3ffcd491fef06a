using System.Diagnostics;
using StackExchange.Redis;

namespace Engine.Sessions;

/// <summary>
/// A session this instance holds the Redis lease of (<see cref="RedisSessionStore"/>'s near cache):
/// while <see cref="IsUsable"/> no other instance reads or changes it in Redis, so requests resume,
/// rotate and count here and the holder writes the state back before the lease ends or when
/// another instance asks for it. Times are Redis's clock in milliseconds, as in the session's hash;
/// "now" is the Redis time of the grant plus the local time since (one loopback round trip of skew
/// at most, far below the second-granular session terms). Guarded by its own lock.
/// </summary>
internal sealed class SessionLease(string nearKey, RedisKey redisKey, byte[] fingerprint, long epoch)
{
    public string NearKey { get; } = nearKey;

    public RedisKey RedisKey { get; } = redisKey;

    public byte[] Fingerprint { get; } = fingerprint;

    /// <summary>The link's degraded-transition count at the grant: an outage since ends the lease here.</summary>
    public long Epoch { get; } = epoch;

    public SessionTerms Terms;

    public string? NodeId;
    public long Since;
    public int Requests;
    public long Created;
    public long Used;

    // The clock: Redis's now at the grant, the local timestamp and the test clock shift then.
    public long BaseRedisMs;
    public long BaseTimestamp;
    public long BaseShiftMs;

    /// <summary>Local timestamp until which the lease may be used (the Redis lease minus a margin).</summary>
    public long UsableUntil;

    /// <summary>Used or changed since the last write-back was sent.</summary>
    public bool Dirty;

    /// <summary>Written back and given up (or lost): requests go to Redis.</summary>
    public bool Released;

    public long NowMs(long shiftMs) =>
        BaseRedisMs + ((Stopwatch.GetTimestamp() - BaseTimestamp) * 1000 / Stopwatch.Frequency) + (shiftMs - BaseShiftMs);

    public bool IsUsable(long epoch) => !Released && epoch == Epoch && Stopwatch.GetTimestamp() < UsableUntil;

    public bool IsExpired(long nowMs) =>
        nowMs - Created >= Terms.LengthSeconds * 1000L
        || (Terms.IdleTtlSeconds > 0 && nowMs - Used >= Terms.IdleTtlSeconds * 1000L);

    public bool RotationDue(long nowMs) =>
        NodeId is not null
        && ((Terms.RotateSeconds > 0 && nowMs - Since >= Terms.RotateSeconds * 1000L)
            || (Terms.RotateRequests > 0 && Requests >= Terms.RotateRequests));

    /// <summary>The compare-and-set of <see cref="ISessionStore.CommitAsync"/>, on the held state.</summary>
    public void Commit(string? expectedNodeId, string nodeId, long nowMs)
    {
        if (string.Equals(NodeId, expectedNodeId, StringComparison.Ordinal) && !string.Equals(nodeId, NodeId, StringComparison.Ordinal))
        {
            NodeId = nodeId;
            Since = nowMs;
            Requests = 0;
        }

        if (string.Equals(NodeId, nodeId, StringComparison.Ordinal))
        {
            Requests++;
        }

        Dirty = true;
    }
}
