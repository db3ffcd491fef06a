using System.Diagnostics;
using StackExchange.Redis;
using Engine.State;

namespace Engine.Sessions;

/// <summary>
/// Sessions in Redis (one hash per session, <see cref="RedisKeys.Session"/>), so an id lands on the
/// same node from any instance. Open, commit and bind are Lua scripts (<see cref="RedisScripts"/>);
/// the key's TTL is what is left of the session, so <see cref="Sweep"/> has nothing to do in Redis.
/// </summary>
/// <remarks>
/// <para>Near cache (RedisSessionStore.Leases.cs): the instance that opens a session twice in a row
/// takes its lease in Redis and from then on serves it from a local <see cref="SessionLease"/> — no
/// round trip per request — writing the state back in batches before the lease runs out. Another
/// instance that needs the session meets the lease in the script, asks the holder (pub/sub, and the
/// session's <c>want</c> flag as the fallback) to write back and release, and continues on the
/// written state: one instance changes a session at a time, so node, rotation counts and idle time
/// stay exact across instances (docs/scale-out.md "Near cache").</para>
/// <para>While the link is degraded sessions are this instance's own (<paramref name="local"/>): one
/// created then stays local and, once Redis is back, starts afresh in Redis on its next request.</para>
/// </remarks>
internal sealed partial class RedisSessionStore(RedisLink link, RedisKeys keys, ISessionStore local, TimeProvider? clockShift, RedisStateOptions options) : ISessionStore
{
    private readonly long _shiftStart = clockShift?.GetTimestamp() ?? 0;

    public long Evicted => local.Evicted;

    public int Count => local.Count + _leases.Count;

    public void SetMaxSessions(Func<string, int> maxSessions) => local.SetMaxSessions(maxSessions);

    public int MaxSessionsOf(string packageId) => local.MaxSessionsOf(packageId);

    /// <summary>Unknown: counting a package's keys in Redis would be a SCAN. Redis drops each session with its TTL.</summary>
    public int? LiveSessions(string packageId) => link.IsDegraded ? local.LiveSessions(packageId) : null;

    public ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create = true)
    {
        if (link.IsDegraded)
        {
            return local.OpenAsync(packageId, sessionId, fingerprint, terms, create);
        }

        if (Held(packageId, sessionId.Span) is { } lease && TryOpenHeld(lease, fingerprint.Span, out SessionOpened opened))
        {
            return ValueTask.FromResult(opened);
        }

        return OpenSharedAsync(packageId, sessionId, fingerprint, terms, create);
    }

    private async ValueTask<SessionOpened> OpenSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create)
    {
        string nearKey = NearKey(packageId, sessionId.Span);
        RedisKey key = keys.Session(packageId, sessionId.Span);
        long started = Stopwatch.GetTimestamp();
        try
        {
            long releases = await SettleAsync(nearKey).ConfigureAwait(false);
            while (true)
            {
                long epoch = link.DegradedTransitions;
                long sent = Stopwatch.GetTimestamp();
                long shift = ShiftMilliseconds();
                var answer = (RedisResult[])(await link.Bounded(link.Database.ScriptEvaluateAsync(
                    RedisScripts.OpenSession,
                    [key],
                    [fingerprint, terms.LengthSeconds, terms.IdleTtlSeconds, terms.RotateSeconds, terms.RotateRequests, shift, create ? 1 : 0, _instance, LeaseToOffer()])).ConfigureAwait(false))!;
                switch ((int)answer[0])
                {
                    case 0:
                        return new SessionOpened(SessionOpenStatus.Created);
                    case 2:
                        return new SessionOpened(SessionOpenStatus.Mismatch);
                    case 3:
                        return new SessionOpened(SessionOpenStatus.Absent);
                    case 4:
                        if (await AwaitReleaseAsync(nearKey, answer, started).ConfigureAwait(false))
                        {
                            continue;
                        }

                        return await local.OpenAsync(packageId, sessionId, fingerprint, terms, create).ConfigureAwait(false);
                }

                string? node = (string?)answer[1];
                if ((int)answer[3] == 1)
                {
                    Hold(nearKey, key, fingerprint.Span, answer, epoch, sent, shift, releases);
                }

                if (string.IsNullOrEmpty(node))
                {
                    return new SessionOpened(SessionOpenStatus.Resumed);
                }

                return (int)answer[2] == 1
                    ? new SessionOpened(SessionOpenStatus.Resumed, PreviousNodeId: node)
                    : new SessionOpened(SessionOpenStatus.Resumed, node);
            }
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            link.Fail(e);
            return await local.OpenAsync(packageId, sessionId, fingerprint, terms, create).ConfigureAwait(false);
        }
    }

    public ValueTask CommitAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId)
    {
        if (link.IsDegraded)
        {
            return local.CommitAsync(packageId, sessionId, expectedNodeId, nodeId);
        }

        if (Held(packageId, sessionId.Span) is { } lease && TryCommitHeld(lease, fingerprint: default, checkFingerprint: false, expectedNodeId, nodeId) is not null)
        {
            return ValueTask.CompletedTask;
        }

        return CommitSharedAsync(packageId, sessionId, expectedNodeId, nodeId);
    }

    private async ValueTask CommitSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId)
    {
        string nearKey = NearKey(packageId, sessionId.Span);
        long started = Stopwatch.GetTimestamp();
        try
        {
            await SettleAsync(nearKey).ConfigureAwait(false);
            while (true)
            {
                var answer = (RedisResult[])(await link.Bounded(link.Database.ScriptEvaluateAsync(
                    RedisScripts.CommitSession,
                    [keys.Session(packageId, sessionId.Span)],
                    [expectedNodeId ?? string.Empty, nodeId, ShiftMilliseconds(), _instance])).ConfigureAwait(false))!;
                if ((int)answer[0] != 4)
                {
                    return;
                }

                if (!await AwaitReleaseAsync(nearKey, answer, started).ConfigureAwait(false))
                {
                    await local.CommitAsync(packageId, sessionId, expectedNodeId, nodeId).ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            // The request went through; only its binding is lost. The local store has it when the
            // session was opened there during this same outage.
            link.Fail(e);
            await local.CommitAsync(packageId, sessionId, expectedNodeId, nodeId).ConfigureAwait(false);
        }
    }

    public ValueTask<bool> BindAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId)
    {
        if (link.IsDegraded)
        {
            return local.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId);
        }

        if (Held(packageId, sessionId.Span) is { } lease && TryCommitHeld(lease, fingerprint.Span, checkFingerprint: true, expectedNodeId, nodeId) is { } bound)
        {
            return ValueTask.FromResult(bound);
        }

        return BindSharedAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId);
    }

    private async ValueTask<bool> BindSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId)
    {
        string nearKey = NearKey(packageId, sessionId.Span);
        long started = Stopwatch.GetTimestamp();
        try
        {
            await SettleAsync(nearKey).ConfigureAwait(false);
            while (true)
            {
                var answer = (RedisResult[])(await link.Bounded(link.Database.ScriptEvaluateAsync(
                    RedisScripts.BindSession,
                    [keys.Session(packageId, sessionId.Span)],
                    [fingerprint, terms.LengthSeconds, terms.IdleTtlSeconds, terms.RotateSeconds, terms.RotateRequests, ShiftMilliseconds(), expectedNodeId ?? string.Empty, nodeId, _instance])).ConfigureAwait(false))!;
                if ((int)answer[0] != 4)
                {
                    return (int)answer[0] == 1;
                }

                if (!await AwaitReleaseAsync(nearKey, answer, started).ConfigureAwait(false))
                {
                    return await local.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            link.Fail(e);
            return await local.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId).ConfigureAwait(false);
        }
    }

    public ValueTask<SessionInfo?> GetAsync(string packageId, ReadOnlyMemory<byte> sessionId)
    {
        if (link.IsDegraded)
        {
            return local.GetAsync(packageId, sessionId);
        }

        if (Held(packageId, sessionId.Span) is { } lease && TryGetHeld(lease, out SessionInfo? info))
        {
            return ValueTask.FromResult(info);
        }

        return GetSharedAsync(packageId, sessionId);
    }

    private async ValueTask<SessionInfo?> GetSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId)
    {
        string nearKey = NearKey(packageId, sessionId.Span);
        long started = Stopwatch.GetTimestamp();
        RedisResult[] answer;
        try
        {
            await SettleAsync(nearKey).ConfigureAwait(false);
            while (true)
            {
                answer = (RedisResult[])(await link.Bounded(link.Database.ScriptEvaluateAsync(
                    RedisScripts.GetSession, [keys.Session(packageId, sessionId.Span)], [ShiftMilliseconds(), _instance])).ConfigureAwait(false))!;
                if (answer.Length != 3 || (int)answer[0] != 4)
                {
                    break;
                }

                if (!await AwaitReleaseAsync(nearKey, answer, started).ConfigureAwait(false))
                {
                    return await local.GetAsync(packageId, sessionId).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            link.Fail(e);
            return await local.GetAsync(packageId, sessionId).ConfigureAwait(false);
        }

        if (answer.Length < 8)
        {
            return null;
        }

        string? node = (string?)answer[0];
        return new SessionInfo(
            string.IsNullOrEmpty(node) ? null : node,
            (int)answer[1],
            TimeSpan.FromMilliseconds((long)answer[2]),
            TimeSpan.FromMilliseconds((long)answer[3]),
            new SessionTerms((int)answer[4], (int)answer[5], (int)answer[6], (int)answer[7]));
    }

    public ValueTask<bool> DeleteAsync(string packageId, ReadOnlyMemory<byte> sessionId) =>
        link.IsDegraded ? local.DeleteAsync(packageId, sessionId) : DeleteSharedAsync(packageId, sessionId);

    private async ValueTask<bool> DeleteSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId)
    {
        // A session this instance made during an outage goes too, so it cannot come back.
        bool deletedLocally = await local.DeleteAsync(packageId, sessionId).ConfigureAwait(false);
        string nearKey = NearKey(packageId, sessionId.Span);
        bool? heldLive = Drop(nearKey);
        long started = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                var answer = (RedisResult[])(await link.Bounded(link.Database.ScriptEvaluateAsync(
                    RedisScripts.DeleteSession, [keys.Session(packageId, sessionId.Span)], [ShiftMilliseconds(), _instance])).ConfigureAwait(false))!;
                if ((int)answer[0] != 4)
                {
                    // A held session's own state says whether it was live; Redis's copy of it was behind.
                    return (heldLive ?? (int)answer[0] == 1) || deletedLocally;
                }

                if (!await AwaitReleaseAsync(nearKey, answer, started).ConfigureAwait(false))
                {
                    return deletedLocally;
                }
            }
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            link.Fail(e);
            return deletedLocally;
        }
    }

    /// <summary>Redis drops expired sessions by TTL; sessions made locally during an outage are swept here.</summary>
    public void Sweep() => local.Sweep();

    private long ShiftMilliseconds() =>
        clockShift is null ? 0 : (clockShift.GetTimestamp() - _shiftStart) * 1000 / clockShift.TimestampFrequency;
}
