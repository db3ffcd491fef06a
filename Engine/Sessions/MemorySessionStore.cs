using System.Collections.Concurrent;

namespace Engine.Sessions;

/// <summary>
/// Sessions of one engine instance. Lookups build the key on the stack and search with an
/// alternate (span) key, so resuming a session allocates nothing; only a new session allocates.
/// Expired sessions are found lazily on access and by one periodic <see cref="Sweep"/>.
/// </summary>
internal sealed class MemorySessionStore : ISessionStore
{
    // Package ids and session ids are short tokens (rules.md: session id ≤ 64); the key is both.
    private const int MaxKeyLength = 256;
    private const char Separator = '\u0001';

    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Session>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly TimeProvider _time;

    public MemorySessionStore(TimeProvider time)
    {
        _time = time;
        _lookup = _sessions.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _sessions.Count;

    public ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms)
    {
        Span<char> key = stackalloc char[MaxKeyLength];
        int length = WriteKey(packageId, sessionId.Span, key);
        long now = _time.GetTimestamp();
        while (true)
        {
            if (_lookup.TryGetValue(key[..length], out Session? session))
            {
                lock (session)
                {
                    if (!session.IsExpired(now, _time.TimestampFrequency))
                    {
                        if (!fingerprint.Span.SequenceEqual(session.Fingerprint))
                        {
                            return ValueTask.FromResult(new SessionOpened(SessionOpenStatus.Mismatch));
                        }

                        session.LastUsed = now;
                        return ValueTask.FromResult(session.RotationDue(now, _time.TimestampFrequency)
                            ? new SessionOpened(SessionOpenStatus.Resumed, PreviousNodeId: session.NodeId)
                            : new SessionOpened(SessionOpenStatus.Resumed, session.NodeId));
                    }
                }

                // Its length or idle time is over: it starts fresh (rules.md), new rules lock included.
                _lookup.TryRemove(key[..length], out _);
                continue;
            }

            var created = new Session(fingerprint.ToArray(), terms, now);
            if (_lookup.TryAdd(key[..length], created))
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
            long now = _time.GetTimestamp();
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

        return ValueTask.CompletedTask;
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
        if (!_lookup.TryRemove(key[..length], out Session? session))
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
                _sessions.TryRemove(pair);
            }
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

    private sealed class Session(byte[] fingerprint, SessionTerms terms, long now)
    {
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
