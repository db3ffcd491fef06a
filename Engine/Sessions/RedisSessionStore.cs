using Engine.Upstream;
using StackExchange.Redis;
using Engine.State;

namespace Engine.Sessions;

/// <summary>
/// Sessions in Redis (one hash per session, <see cref="RedisKeys.Session"/>), so an id lands on the
/// same node from any instance. Open and commit are Lua scripts (<see cref="RedisScripts"/>), the
/// key's TTL is what is left of the session, so <see cref="Sweep"/> has nothing to do in Redis.
/// While the link is degraded sessions are this instance's own (<paramref name="local"/>): one
/// created then stays local and, once Redis is back, starts afresh in Redis on its next request.
/// </summary>
internal sealed class RedisSessionStore(RedisLink link, RedisKeys keys, ISessionStore local, TimeProvider? clockShift) : ISessionStore
{
    private readonly long _shiftStart = clockShift?.GetTimestamp() ?? 0;

    public long Evicted => local.Evicted;

    public int Count => local.Count;

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

        return OpenSharedAsync(packageId, sessionId, fingerprint, terms, create);
    }

    private async ValueTask<SessionOpened> OpenSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create)
    {
        RedisResult result;
        try
        {
            result = await link.Bounded(link.Database.ScriptEvaluateAsync(
                RedisScripts.OpenSession,
                [keys.Session(packageId, sessionId.Span)],
                [fingerprint, terms.LengthSeconds, terms.IdleTtlSeconds, terms.RotateSeconds, terms.RotateRequests, ShiftMilliseconds(), create ? 1 : 0]));
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            link.Fail(e);
            return await local.OpenAsync(packageId, sessionId, fingerprint, terms, create);
        }

        var answer = (RedisResult[])result!;
        switch ((int)answer[0])
        {
            case 0:
                return new SessionOpened(SessionOpenStatus.Created);
            case 2:
                return new SessionOpened(SessionOpenStatus.Mismatch);
            case 3:
                return new SessionOpened(SessionOpenStatus.Absent);
            default:
                string? node = (string?)answer[1];
                if (string.IsNullOrEmpty(node))
                {
                    return new SessionOpened(SessionOpenStatus.Resumed);
                }

                return (int)answer[2] == 1
                    ? new SessionOpened(SessionOpenStatus.Resumed, PreviousNodeId: node)
                    : new SessionOpened(SessionOpenStatus.Resumed, node);
        }
    }

    public ValueTask CommitAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId)
    {
        if (link.IsDegraded)
        {
            return local.CommitAsync(packageId, sessionId, expectedNodeId, nodeId);
        }

        return CommitSharedAsync(packageId, sessionId, expectedNodeId, nodeId);
    }

    private async ValueTask CommitSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId)
    {
        try
        {
            await link.Bounded(link.Database.ScriptEvaluateAsync(
                RedisScripts.CommitSession,
                [keys.Session(packageId, sessionId.Span)],
                [expectedNodeId ?? string.Empty, nodeId, ShiftMilliseconds()]));
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            // The request went through; only its binding is lost. The local store has it when the
            // session was opened there during this same outage.
            link.Fail(e);
            await local.CommitAsync(packageId, sessionId, expectedNodeId, nodeId);
        }
    }

    public ValueTask<bool> BindAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId) =>
        link.IsDegraded
            ? local.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId)
            : BindSharedAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId);

    private async ValueTask<bool> BindSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId)
    {
        try
        {
            RedisResult result = await link.Bounded(link.Database.ScriptEvaluateAsync(
                RedisScripts.BindSession,
                [keys.Session(packageId, sessionId.Span)],
                [fingerprint, terms.LengthSeconds, terms.IdleTtlSeconds, terms.RotateSeconds, terms.RotateRequests, ShiftMilliseconds(), expectedNodeId ?? string.Empty, nodeId]));
            return (int)result == 1;
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            link.Fail(e);
            return await local.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId);
        }
    }

    public ValueTask<SessionInfo?> GetAsync(string packageId, ReadOnlyMemory<byte> sessionId) =>
        link.IsDegraded ? local.GetAsync(packageId, sessionId) : GetSharedAsync(packageId, sessionId);

    private async ValueTask<SessionInfo?> GetSharedAsync(string packageId, ReadOnlyMemory<byte> sessionId)
    {
        RedisResult result;
        try
        {
            result = await link.Bounded(link.Database.ScriptEvaluateAsync(
                RedisScripts.GetSession, [keys.Session(packageId, sessionId.Span)], [ShiftMilliseconds()]));
        }
        catch (Exception e) when (RedisLink.IsOutage(e))
        {
            link.Fail(e);
            return await local.GetAsync(packageId, sessionId);
        }

        var answer = (RedisResult[])result!;
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
        bool deletedLocally = await local.DeleteAsync(packageId, sessionId);
        try
        {
            RedisResult result = await link.Bounded(link.Database.ScriptEvaluateAsync(
                RedisScripts.DeleteSession, [keys.Session(packageId, sessionId.Span)], [ShiftMilliseconds()]));
            return (int)result == 1 || deletedLocally;
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
