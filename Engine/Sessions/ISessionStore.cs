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
    /// <param name="create">False: a missing or expired session is reported as <see cref="SessionOpenStatus.Absent"/>
    /// and nothing is stored; the router then calls <see cref="BindAsync"/> once a node is bound, so a
    /// request refused before it used a node leaves no session behind (issue 19.3).</param>
    ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create = true);

    /// <summary>
    /// A request went through <paramref name="nodeId"/>. When the session's node is still
    /// <paramref name="expectedNodeId"/> (null: none yet), it becomes <paramref name="nodeId"/>;
    /// otherwise another request rebound it first and that binding stands. Counts the request for
    /// <c>rotate-requests_N</c>.
    /// </summary>
    ValueTask CommitAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId);

    /// <summary>
    /// <see cref="CommitAsync"/> that creates the session (locked to <paramref name="fingerprint"/>,
    /// bound to <paramref name="nodeId"/>, one request counted) when there is no live one: the call
    /// a router makes once a node actually carried the request.
    /// </summary>
    /// <returns>False when a live session with other rules appeared meanwhile (it stands; this request already went through).</returns>
    ValueTask<bool> BindAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId);

    /// <summary>Per-package caps on live sessions (<c>Packages[].MaxSessions</c>); a reload sets them again.</summary>
    void SetMaxSessions(Func<string, int> maxSessions);

    /// <summary>The package's cap as last set.</summary>
    int MaxSessionsOf(string packageId);

    /// <summary>Sessions this store holds for the package; null when it cannot say cheaply (the shared store).</summary>
    int? LiveSessions(string packageId);

    /// <summary>Sessions evicted (least recently used) because their package was at its cap.</summary>
    long Evicted { get; }

    /// <summary>Sessions held, all packages (the <c>engine_tables_entries{table="sessions"}</c> gauge).</summary>
    int Count { get; }

    /// <summary>The live session, or null when there is none (never started, expired, deleted).</summary>
    ValueTask<SessionInfo?> GetAsync(string packageId, ReadOnlyMemory<byte> sessionId);

    /// <summary>Ends a live session at once; its next request starts a fresh one. False when there was none.</summary>
    ValueTask<bool> DeleteAsync(string packageId, ReadOnlyMemory<byte> sessionId);

    /// <summary>Drops sessions whose length or idle time is over (one periodic sweep, no timer per session).</summary>
    void Sweep();
}
