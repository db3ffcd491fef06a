namespace Engine.Sessions;

/// <summary>
/// Sticky sessions keyed by (package, session id). The memory store serves one instance; a
/// shared store (Redis) makes the same id land on the same node from any instance, which is why
/// the binding is a compare-and-set on node ids rather than an object reference.
/// </summary>
internal interface ISessionStore
{
    /// <summary>
    /// Finds the live session or starts one locked to <paramref name="fingerprint"/> (the
    /// canonical rules without the id, so rule order does not matter).
    /// </summary>
    ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms);

    /// <summary>
    /// A request went through <paramref name="nodeId"/>. When the session's node is still
    /// <paramref name="expectedNodeId"/> (null: none yet), it becomes <paramref name="nodeId"/>;
    /// otherwise another request rebound it first and that binding stands. Counts the request for
    /// <c>rotate-requests_N</c>.
    /// </summary>
    ValueTask CommitAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId);

    /// <summary>The live session, or null when there is none (never started, expired, deleted).</summary>
    ValueTask<SessionInfo?> GetAsync(string packageId, ReadOnlyMemory<byte> sessionId);

    /// <summary>Ends a live session at once; its next request starts a fresh one. False when there was none.</summary>
    ValueTask<bool> DeleteAsync(string packageId, ReadOnlyMemory<byte> sessionId);

    /// <summary>Drops sessions whose length or idle time is over (one periodic sweep, no timer per session).</summary>
    void Sweep();
}
