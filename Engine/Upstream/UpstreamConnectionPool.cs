using System.Net.Sockets;
using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// Idle upstream connections kept for reuse, keyed by (egress, target host, port), bounded per key
/// and in total, expired after an idle timeout. Rent returns a socket or null; Return keeps a
/// socket only if there is room, and disposes it otherwise. Thread-safe; disposing the pool
/// disposes every idle socket.
/// </summary>
/// <remarks>
/// Expiry costs no timer per connection: the list a rent or return touches is trimmed then, and
/// one periodic sweep trims the rest and forgets unused keys. Lookups hash the request's bytes
/// through an alternate comparer, so the steady state allocates nothing.
/// <para>
/// Rule for the connection layer. A server may close an idle connection at any moment (RFC 9112
/// §9.5), so a reused connection can fail under a request even though the rent-time check passed.
/// When a request sent on a <em>reused</em> connection fails before any byte of the response
/// arrived, it may be retried once, on a fresh connection (not another pooled one), only if its
/// method is idempotent (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE) and it can be
/// sent again in full: it has no body, or its body is still entirely buffered rather than being
/// streamed from the client (RFC 9112 §9.3.1). Anything else becomes a 502: once a response byte
/// has arrived, or body bytes have left the client's pipe, a retry could repeat a side effect or
/// send a truncated body. A connection is returned only after the whole request was sent and the
/// response body read to its end with <see cref="ResponseHead.KeepAlive"/> true.
/// </para>
/// </remarks>
internal sealed class UpstreamConnectionPool : IDisposable
{
    /// <summary>
    /// Idle connections kept per (node, host, port). nginx documents <c>keepalive 16;</c> for one
    /// upstream, but a scraping fleet sends many clients to one site through one node: with 64
    /// keep-alive clients on one key, 16 halved req/s (12.8k vs 24.7k across four keys, measured
    /// with LoadTests), because every request beyond 16 opened a fresh connection. 128 covers a
    /// busy key; the total below still bounds descriptors.
    /// </summary>
    public const int DefaultMaxIdlePerKey = 128;

    /// <summary>A scraping gateway talks to many origins; 1024 idle descriptors is a fraction of a typical 64 Ki fd limit.</summary>
    public const int DefaultMaxIdleTotal = 1024;

    /// <summary>SocketsHttpHandler.PooledConnectionIdleTimeout and nginx's upstream keepalive_timeout are both 60 s.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

    private readonly Lock _lock = new();
    private readonly Dictionary<UpstreamKey, IdleConnectionList> _idle;
    private readonly Dictionary<UpstreamKey, IdleConnectionList>.AlternateLookup<UpstreamLookup> _lookup;
    private readonly int _maxIdlePerKey;
    private readonly int _maxIdleTotal;
    private readonly long _idleTimeoutTicks;   // in TimeProvider timestamp units
    private readonly long _freshTicks;
    private readonly TimeProvider _time;
    private readonly ITimer _sweepTimer;
    private int _idleCount;
    private bool _disposed;
    private long _hits;
    private long _misses;
    private long _stale;
    private long _expired;
    private long _rejected;

    public UpstreamConnectionPool(int maxIdlePerKey = DefaultMaxIdlePerKey, int maxIdleTotal = DefaultMaxIdleTotal, TimeSpan? idleTimeout = null,
        TimeProvider? time = null)
    {
        TimeSpan timeout = idleTimeout ?? DefaultIdleTimeout;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIdlePerKey, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIdleTotal, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);

        _maxIdlePerKey = maxIdlePerKey;
        _maxIdleTotal = maxIdleTotal;
        _time = time ?? TimeProvider.System;
        _idleTimeoutTicks = (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        _freshTicks = (long)(FreshWithoutCheck.TotalSeconds * _time.TimestampFrequency);
        _idle = new Dictionary<UpstreamKey, IdleConnectionList>(UpstreamKeyComparer.Instance);
        _lookup = _idle.GetAlternateLookup<UpstreamLookup>();

        // Half the timeout: no socket outlives it by more than 50 % even on keys nobody touches.
        TimeSpan period = TimeSpan.FromTicks(Math.Max(timeout.Ticks / 2, TimeSpan.FromMilliseconds(100).Ticks));
        _sweepTimer = _time.CreateTimer(static s => ((UpstreamConnectionPool)s!).Sweep(), this, period, period);
    }

    public int IdleCount => Volatile.Read(ref _idleCount);

    public UpstreamPoolCounts GetCounts()
    {
        lock (_lock)
        {
            return new UpstreamPoolCounts(_idleCount, _idle.Count, Interlocked.Read(ref _hits), _misses, Interlocked.Read(ref _stale), _expired,
                Interlocked.Read(ref _rejected));
        }
    }

    /// <summary>
    /// A connection back in the pool for less than this is handed out without the staleness check
    /// when the request can be sent again (see <see cref="Rent"/>).
    /// </summary>
    public static readonly TimeSpan FreshWithoutCheck = TimeSpan.FromSeconds(1);

    /// <summary>
    /// An idle connection to (egress, host, port) that still looks open, or null. The look is a
    /// poll(2) per rent — one syscall in eight on a forwarded keep-alive GET — so it is skipped when
    /// <paramref name="canRetry"/> says the request may be sent again on a fresh connection if this
    /// one turns out dead (idempotent, no body: the rule in the remarks), the connection came
    /// back less than <see cref="FreshWithoutCheck"/> ago, well inside any server's keep-alive timeout,
    /// and nothing has arrived on it since (no read edge).
    /// </summary>
    public TcpSocket? Rent(int egressId, ReadOnlySpan<byte> host, int port, bool canRetry = false)
    {
        var key = new UpstreamLookup(egressId, host, port);
        while (true)
        {
            TcpSocket socket;
            bool fresh;
            bool quiet;
            lock (_lock)
            {
                if (_disposed || host.Length > UpstreamKeyComparer.MaxHostLength || !_lookup.TryGetValue(key, out IdleConnectionList? list))
                {
                    _misses++;
                    return null;
                }

                long now = _time.GetTimestamp();
                Expire(list, now);
                if (list.Count == 0)
                {
                    _misses++;
                    return null;
                }

                TcpSocket? taken = list.Take(EpollLoop.Current, out long returnedAt, out quiet);
                if (taken is null)
                {
                    _misses++;
                    return null;
                }

                socket = taken;
                fresh = now - returnedAt < _freshTicks;
                list.LastUsed = now;
                _idleCount--;
            }

            // Outside the lock: a syscall per candidate unless skipped. Each turn removes one socket,
            // so the loop ends. The skip needs the socket quiet since it came back (no read edge: no
            // bytes and no FIN arrived, which the event loop counts without a syscall): bytes an
            // origin sent after a complete response (past its Content-Length, a body on a HEAD or a
            // 304) would otherwise be read as the next request's answer, another client's perhaps,
            // and no retry can tell. A socket that heard something is peeked, as any unchecked one.
            if ((canRetry && fresh && quiet && socket.IsOpen) || !IsStale(socket))
            {
                Interlocked.Increment(ref _hits);
                return socket;
            }

            socket.Close();
            Interlocked.Increment(ref _stale);
        }
    }

    /// <summary>
    /// Offers a connection whose exchange ended cleanly and may be reused (see the remarks for
    /// when). Returns whether the pool kept it; if not, it has been disposed.
    /// </summary>
    public bool Return(int egressId, ReadOnlySpan<byte> host, int port, TcpSocket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        bool kept = false;
        if (socket.IsOpen && host.Length <= UpstreamKeyComparer.MaxHostLength)
        {
            var key = new UpstreamLookup(egressId, host, port);
            lock (_lock)
            {
                if (!_disposed)
                {
                    long now = _time.GetTimestamp();
                    IdleConnectionList? list = GetOrAddList(key);
                    if (list is not null)
                    {
                        Expire(list, now);
                        list.LastUsed = now;
                        if (!list.IsFull && _idleCount < _maxIdleTotal)
                        {
                            list.Push(socket, now);
                            _idleCount++;
                            kept = true;
                        }
                    }
                }
            }
        }

        if (!kept)
        {
            socket.Close();
            Interlocked.Increment(ref _rejected);
        }

        return kept;
    }

    /// <summary>Disposes expired sockets and forgets keys unused for a whole timeout. Runs on the periodic timer; callable directly.</summary>
    public void Sweep()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            long now = _time.GetTimestamp();
            foreach ((UpstreamKey key, IdleConnectionList list) in _idle)
            {
                Expire(list, now);
                if (list.Count == 0 && now - list.LastUsed >= _idleTimeoutTicks)
                {
                    _idle.Remove(key);   // allowed while enumerating since .NET Core 3.0
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (IdleConnectionList list in _idle.Values)
            {
                list.DisposeAll();
            }

            _idle.Clear();
            _idleCount = 0;
        }

        _sweepTimer.Dispose();
    }

    // A pooled connection is idle HTTP/1.1: the server has nothing to say until it gets a request.
    // Readable therefore means FIN or RST or unsolicited bytes (e.g. a 408 sent before closing);
    // neither connection can carry the next request.
    private static bool IsStale(TcpSocket socket) => socket.HasInputOrEnded();

    private void Expire(IdleConnectionList list, long now)
    {
        int expired = list.DisposeExpired(now - _idleTimeoutTicks);
        _idleCount -= expired;
        _expired += expired;
    }

    private IdleConnectionList? GetOrAddList(UpstreamLookup key)
    {
        if (_lookup.TryGetValue(key, out IdleConnectionList? list))
        {
            return list;
        }

        // Keys are bounded like sockets: when the table is full, first drop the keys that hold nothing.
        if (_idle.Count >= _maxIdleTotal)
        {
            if (_idle.Count > _idleCount)
            {
                foreach ((UpstreamKey stored, IdleConnectionList candidate) in _idle)
                {
                    if (candidate.Count == 0)
                    {
                        _idle.Remove(stored);
                    }
                }
            }

            if (_idle.Count >= _maxIdleTotal)
            {
                return null;
            }
        }

        list = new IdleConnectionList(_maxIdlePerKey);
        _lookup.TryAdd(key, list);
        return list;
    }
}
