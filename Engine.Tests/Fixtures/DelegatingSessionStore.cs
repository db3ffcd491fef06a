using Engine.Sessions;

namespace Engine.Tests.Fixtures;

/// <summary>A session store that passes every call to <paramref name="inner"/>; fault-injecting stores override the calls they change.</summary>
internal class DelegatingSessionStore(ISessionStore inner) : ISessionStore
{
    public virtual ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create = true) =>
        inner.OpenAsync(packageId, sessionId, fingerprint, terms, create);

    public virtual ValueTask CommitAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId) =>
        inner.CommitAsync(packageId, sessionId, expectedNodeId, nodeId);

    public virtual ValueTask<bool> BindAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId) =>
        inner.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId);

    public void SetMaxSessions(Func<string, int> maxSessions) => inner.SetMaxSessions(maxSessions);

    public int MaxSessionsOf(string packageId) => inner.MaxSessionsOf(packageId);

    public int? LiveSessions(string packageId) => inner.LiveSessions(packageId);

    public long Evicted => inner.Evicted;

    public int Count => inner.Count;

    public ValueTask<SessionInfo?> GetAsync(string packageId, ReadOnlyMemory<byte> sessionId) => inner.GetAsync(packageId, sessionId);

    public ValueTask<bool> DeleteAsync(string packageId, ReadOnlyMemory<byte> sessionId) => inner.DeleteAsync(packageId, sessionId);

    public void Sweep() => inner.Sweep();
}
