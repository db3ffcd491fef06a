using System.Collections.Concurrent;

namespace Engine.Sessions;

/// <summary>
/// Sessions of one engine instance. Lookups build the key on the stack and search with an
/// alternate (span) key, so resuming a session allocates nothing; only a new session allocates.
/// Expired sessions are found lazily on access and by one periodic <see cref="Sweep"/>.
/// </summary>
/// <remarks>
/// Live sessions per package are capped (<c>Packages[].MaxSessions</c>, <see cref="DefaultMaxSessions"/>):
/// a package's sessions sit in one recency list (intrusive, under the package's lock), and
/// a new session that finds its package full evicts the least recently used one, which then
/// starts fresh on its next request exactly as after its idle time (<see cref="Evicted"/> counts them).
/// </remarks>
internal sealed class MemorySessionStore : ISessionStore
{
    /// <summary>~450 B of heap a session: 100 000 sessions are ~45 MB for one package.</summary>
    public const int DefaultMaxSessions = 100_000;

    // Package ids and session ids are short tokens (rules.md: session id ≤ 64); the key is both.
    private const int MaxKeyLength = 256;
    private const char Separator = '\u0001';

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Session>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly ConcurrentDictionary<string, Recency> _packages = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private Func<string, int> _maxSessions = static _ => DefaultMaxSessions;
    private long _evicted;

    public MemorySessionStore(TimeProvider time)
    {
        _time = time;
        _lookup = _sessions.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _sessions.Count;

    public long Evicted => Interlocked.Read(ref _evicted);

    public void SetMaxSessions(Func<string, int> maxSessions) => _maxSessions = maxSessions;

    public int MaxSessionsOf(string packageId) => Math.Max(1, _maxSessions(packageId));

    public int? LiveSessions(string packageId) => _packages.TryGetValue(packageId, out Recency? recency) ? recency.Count : 0;

    public ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create = true)
    {
        Span<char> key = stackalloc char[MaxKeyLength];
        int length = WriteKey(packageId, sessionId.Span, key);
        long now = _time.GetTimestamp();
        while (true)
        {
            if (_lookup.TryGetValue(key[..length], out Session? session))
            {
                SessionOpened? live = Resume(session, fingerprint.Span, now);
                if (live is { } opened)
                {
                    return ValueTask.FromResult(opened);
                }

                // Its length or idle time is over: it starts fresh (rules.md), new rules lock included.
                Remove(session);
                continue;
            }

            if (!create)
            {
                return ValueTask.FromResult(new SessionOpened(SessionOpenStatus.Absent));
            }

            if (Add(packageId, new string(key[..length]), fingerprint.ToArray(), terms, now, nodeId: null) is not null)
            {
                return ValueTask.FromResult(new SessionOpened(SessionOpenStatus.Created));
            }
        }
    }

    public ValueTask CommitAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId)
    {
        Span<char> key = stackalloc char[MaxKeyLength];
        int length = WriteKey(packageId, sessionId.Span, key);
        if (_lookup.TryGetValue(key[..length], out Session? session))
        {
            Commit(session, expectedNodeId, nodeId, _time.GetTimestamp());
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> BindAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId)
    {
        Span<char> key = stackalloc char[MaxKeyLength];
        int length = WriteKey(packageId, sessionId.Span, key);
        long now = _time.GetTimestamp();
        while (true)
        {
            if (_lookup.TryGetValue(key[..length], out Session? session))
            {
                bool expired;
                lock (session)
                {
                    expired = session.IsExpired(now, _time.TimestampFrequency);
                    if (!expired && !fingerprint.Span.SequenceEqual(session.Fingerprint))
                    {
                        return ValueTask.FromResult(false);   // another request created it with other rules meanwhile
                    }
                }

                if (!expired)
                {
                    Commit(session, expectedNodeId, nodeId, now);
                    return ValueTask.FromResult(true);
                }

                Remove(session);
                continue;
            }

            if (Add(packageId, new string(key[..length]), fingerprint.ToArray(), terms, now, nodeId) is not null)
            {
                return ValueTask.FromResult(true);
            }
        }
    }

    public ValueTask<SessionInfo?> GetAsync(string packageId, ReadOnlyMemory<byte> sessionId)
    {
        Span<char> key = stackalloc char[MaxKeyLength];
        int length = WriteKey(packageId, sessionId.Span, key);
        if (!_lookup.TryGetValue(key[..length], out Session? session))
        {
            return ValueTask.FromResult<SessionInfo?>(null);
        }

        long now = _time.GetTimestamp();
        long frequency = _time.TimestampFrequency;
        lock (session)
        {
            if (session.IsExpired(now, frequency))
            {
                return ValueTask.FromResult<SessionInfo?>(null);
            }

            return ValueTask.FromResult<SessionInfo?>(new SessionInfo(
                session.NodeId,
                session.RequestsOnNode,
                TimeSpan.FromSeconds((double)(now - session.Created) / frequency),
                TimeSpan.FromSeconds((double)session.Remaining(now, frequency) / frequency),
                session.Terms));
        }
    }

    public ValueTask<bool> DeleteAsync(string packageId, ReadOnlyMemory<byte> sessionId)
    {
        Span<char> key = stackalloc char[MaxKeyLength];
        int length = WriteKey(packageId, sessionId.Span, key);
        if (!_lookup.TryGetValue(key[..length], out Session? session) || !Remove(session))
        {
            return ValueTask.FromResult(false);
        }

        // An expired session was already over: removing it is housekeeping, not a deletion.
        lock (session)
        {
            return ValueTask.FromResult(!session.IsExpired(_time.GetTimestamp(), _time.TimestampFrequency));
        }
    }

    public void Sweep()
    {
        long now = _time.GetTimestamp();
        foreach (KeyValuePair<string, Session> pair in _sessions)
        {
            bool expired;
            lock (pair.Value)
            {
                expired = pair.Value.IsExpired(now, _time.TimestampFrequency);
            }

            if (expired)
            {
                Remove(pair.Value);
            }
        }
    }

    /// <returns>The session's answer, or null when it is over.</returns>
    private SessionOpened? Resume(Session session, ReadOnlySpan<byte> fingerprint, long now)
    {
        lock (session)
        {
            if (session.IsExpired(now, _time.TimestampFrequency))
            {
                return null;
            }

            if (!fingerprint.SequenceEqual(session.Fingerprint))
            {
                return new SessionOpened(SessionOpenStatus.Mismatch);
            }

            session.LastUsed = now;
        }

        session.Package.Touch(session);
        lock (session)
        {
            return session.RotationDue(now, _time.TimestampFrequency)
                ? new SessionOpened(SessionOpenStatus.Resumed, PreviousNodeId: session.NodeId)
                : new SessionOpened(SessionOpenStatus.Resumed, session.NodeId);
        }
    }

    private static void Commit(Session session, string? expectedNodeId, string nodeId, long now)
    {
        lock (session)
        {
            if (string.Equals(session.NodeId, expectedNodeId, StringComparison.Ordinal) && !string.Equals(nodeId, session.NodeId, StringComparison.Ordinal))
            {
                session.NodeId = nodeId;
                session.NodeSince = now;
                session.RequestsOnNode = 0;
            }

            if (string.Equals(session.NodeId, nodeId, StringComparison.Ordinal))
            {
                session.RequestsOnNode++;
            }
        }
    }

    /// <summary>Adds a session under its package's lock, evicting the package's least recently used ones past its cap.</summary>
    /// <returns>Null when another request added the key first.</returns>
    private Session? Add(string packageId, string key, byte[] fingerprint, SessionTerms terms, long now, string? nodeId)
    {
        Recency package = _packages.GetOrAdd(packageId, static _ => new Recency());
        var created = new Session(key, package, fingerprint, terms, now);
        if (nodeId is not null)
        {
            created.NodeId = nodeId;
            created.RequestsOnNode = 1;
        }

        int max = MaxSessionsOf(packageId);
        lock (package.Gate)
        {
            if (!_sessions.TryAdd(key, created))
            {
                return null;
            }

            while (package.Count >= max && package.Oldest is { } victim)
            {
                package.Unlink(victim);
                _sessions.TryRemove(new KeyValuePair<string, Session>(victim.Key, victim));
                Interlocked.Increment(ref _evicted);
            }

            package.Link(created);
        }

        return created;
    }

    /// <returns>False when the session was already gone.</returns>
    private bool Remove(Session session)
    {
        lock (session.Package.Gate)
        {
            session.Package.Unlink(session);
            return _sessions.TryRemove(new KeyValuePair<string, Session>(session.Key, session));
        }
    }

    private static int WriteKey(string packageId, ReadOnlySpan<byte> sessionId, Span<char> key)
    {
        int length = Math.Min(packageId.Length, MaxKeyLength - 1);
        packageId.AsSpan(0, length).CopyTo(key);
        key[length++] = Separator;
        int idLength = Math.Min(sessionId.Length, MaxKeyLength - length);
        for (int i = 0; i < idLength; i++)
        {
            key[length++] = (char)sessionId[i];
        }

        return length;
    }

    /// <summary>One package's live sessions, least recently used first (a doubly linked list through the sessions).</summary>
    private sealed class Recency
    {
        public readonly Lock Gate = new();
        private Session? _newest;
        private int _count;

        public Session? Oldest { get; private set; }

        public int Count => Volatile.Read(ref _count);

        public void Link(Session session)
        {
            session.Older = _newest;
            session.Newer = null;
            session.Linked = true;
            if (_newest is not null)
            {
                _newest.Newer = session;
            }

            _newest = session;
            Oldest ??= session;
            _count++;
        }

        public void Unlink(Session session)
        {
            if (!session.Linked)
            {
                return;
            }

            if (session.Older is not null)
            {
                session.Older.Newer = session.Newer;
            }
            else
            {
                Oldest = session.Newer;
            }

            if (session.Newer is not null)
            {
                session.Newer.Older = session.Older;
            }
            else
            {
                _newest = session.Older;
            }

            session.Older = session.Newer = null;
            session.Linked = false;
            _count--;
        }

        /// <summary>Moves a used session to the newest end (nothing allocated).</summary>
        public void Touch(Session session)
        {
            lock (Gate)
            {
                if (session.Linked && _newest != session)
                {
                    Unlink(session);
                    Link(session);
                }
            }
        }
    }

    private sealed class Session(string key, Recency package, byte[] fingerprint, SessionTerms terms, long now)
    {
        public string Key { get; } = key;

        public Recency Package { get; } = package;

        // The recency list, guarded by Package.Gate.
        public Session? Older;
        public Session? Newer;
        public bool Linked;

        public byte[] Fingerprint { get; } = fingerprint;

        public SessionTerms Terms { get; } = terms;

        public long Created { get; } = now;

        public long LastUsed { get; set; } = now;

        public string? NodeId { get; set; }

        public long NodeSince { get; set; } = now;

        public int RequestsOnNode { get; set; }

        public bool IsExpired(long now, long frequency) =>
            now - Created >= Terms.LengthSeconds * frequency
            || (Terms.IdleTtlSeconds > 0 && now - LastUsed >= Terms.IdleTtlSeconds * frequency);

        /// <summary>Ticks until the length or the idle time is over, whichever comes first.</summary>
        public long Remaining(long now, long frequency)
        {
            long left = Created + (Terms.LengthSeconds * frequency) - now;
            if (Terms.IdleTtlSeconds > 0)
            {
                left = Math.Min(left, LastUsed + (Terms.IdleTtlSeconds * frequency) - now);
            }

            return Math.Max(0, left);
        }

        public bool RotationDue(long now, long frequency) =>
            NodeId is not null
            && ((Terms.RotateSeconds > 0 && now - NodeSince >= Terms.RotateSeconds * frequency)
                || (Terms.RotateRequests > 0 && RequestsOnNode >= Terms.RotateRequests));
    }
}
