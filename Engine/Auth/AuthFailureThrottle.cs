using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Engine.Auth;

/// <summary>
/// Slows credential guessing from one client: after <c>limit</c> failed attempts within a minute,
/// that client's further failures are answered only after <see cref="Delay"/> and on a closed
/// connection, so a guesser gets one guess per delay per connection. Right credentials are never
/// delayed or refused (fleets share NAT addresses, and the admin API must stay reachable to its
/// operator whatever a local process sends). One implementation for the proxy listeners
/// (<c>Security:AuthFailuresPerMinute</c>) and the admin listener (10 a minute).
/// </summary>
/// <remarks>
/// A client is an IPv4 address, or an IPv6 /64: one subscriber gets a whole /64 (RFC 6177), so
/// keying by address would let it start afresh with every address it owns.
/// <para>
/// The table has a hard cap (<see cref="MaxTracked"/> clients, ~100 B each). Windows leave it when
/// their minute is over (swept when the table is full, at most once a second). A client that
/// arrives while the table is full of live windows shares one overflow window with every other
/// such client (<see cref="Overflowed"/> counts those failures): nobody already tracked is
/// forgotten, so flooding the table from many addresses cannot reset an attacker's own count,
/// and the cost of the overflow is that strangers' typos are slowed together, never that a
/// right credential is refused.
/// </para>
/// </remarks>
internal sealed class AuthFailureThrottle
{
    /// <summary>fail2ban's and nginx limit_req's usual scale: a second per guess stops brute force, not typos.</summary>
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(1);

    /// <summary>Clients tracked at most: 100 000 windows are ~10 MB.</summary>
    public const int DefaultMaxTracked = 100_000;

    private readonly ConcurrentDictionary<UInt128, Window> _windows = new();
    private readonly Window _overflow = new(0);
    private readonly TimeProvider _time;
    private readonly int _limit;
    private readonly long _minute;
    private long _throttled;
    private long _overflowed;
    private long _lastSweep;
    private int _tracked;

    /// <param name="failuresPerMinute">Failures a client may make in a minute before it is slowed; 0 = off.</param>
    public AuthFailureThrottle(int failuresPerMinute, TimeProvider time, int maxTracked = DefaultMaxTracked)
    {
        _limit = failuresPerMinute;
        _time = time;
        MaxTracked = maxTracked;
        _minute = time.TimestampFrequency * 60;
        _lastSweep = time.GetTimestamp() - time.TimestampFrequency;
    }

    public static AuthFailureThrottle Off { get; } = new(0, TimeProvider.System);

    /// <summary>The budget this throttle was made with (<c>Security:AuthFailuresPerMinute</c>, 10 for the admin API); 0: off.</summary>
    public int FailuresPerMinute => _limit;

    public int MaxTracked { get; }

    /// <summary>Failures answered late (the metric <c>engine_auth_throttled_total</c>).</summary>
    public long Throttled => Interlocked.Read(ref _throttled);

    /// <summary>Clients with a live window (the gauge <c>engine_auth_throttle_clients</c>).</summary>
    public int Tracked => Volatile.Read(ref _tracked);

    /// <summary>Failures counted in the shared overflow window because the table was full.</summary>
    public long Overflowed => Interlocked.Read(ref _overflowed);

    /// <summary>Counts a failed attempt; true when this client is over its limit and the answer must be slowed.</summary>
    public bool RecordFailure(IPAddress client) => RecordFailure(client, out _);

    /// <param name="windowLeft">When throttled: how long until the client's window ends (for Retry-After).</param>
    public bool RecordFailure(IPAddress client, out TimeSpan windowLeft)
    {
        windowLeft = TimeSpan.Zero;
        if (_limit <= 0)
        {
            return false;
        }

        long now = _time.GetTimestamp();
        Window window = Find(KeyOf(client), now);
        long start;
        lock (window)
        {
            if (now - window.Start >= _minute)
            {
                window.Start = now;
                window.Count = 0;
            }

            if (++window.Count <= _limit)
            {
                return false;
            }

            start = window.Start;
        }

        windowLeft = TimeSpan.FromSeconds((double)(start + _minute - now) / _time.TimestampFrequency);
        Interlocked.Increment(ref _throttled);
        return true;
    }

    /// <summary>The table key: an IPv4 address (IPv4-mapped IPv6 included) as itself, an IPv6 address by its /64.</summary>
    internal static UInt128 KeyOf(IPAddress client)
    {
        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        if (client.AddressFamily == AddressFamily.InterNetwork)
        {
            client.TryWriteBytes(bytes[12..], out _);
            return BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]);
        }

        client.TryWriteBytes(bytes, out _);
        // High half only, tagged so it can never equal an IPv4 key.
        return new UInt128(BinaryPrimitives.ReadUInt64BigEndian(bytes), 1);
    }

    private Window Find(UInt128 key, long now)
    {
        if (_windows.TryGetValue(key, out Window? window))
        {
            return window;
        }

        if (Volatile.Read(ref _tracked) >= MaxTracked)
        {
            Sweep(now);
            if (Volatile.Read(ref _tracked) >= MaxTracked)
            {
                Interlocked.Increment(ref _overflowed);
                return _overflow;
            }
        }

        var fresh = new Window(now);
        if (_windows.TryAdd(key, fresh))
        {
            Interlocked.Increment(ref _tracked);
            return fresh;
        }

        return _windows.TryGetValue(key, out window) ? window : fresh;
    }

    /// <summary>Drops windows whose minute is over; at most once a second, so a full table is not walked per failure.</summary>
    private void Sweep(long now)
    {
        long last = Volatile.Read(ref _lastSweep);
        if (now - last < _time.TimestampFrequency || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }

        foreach (KeyValuePair<UInt128, Window> pair in _windows)
        {
            bool over;
            lock (pair.Value)
            {
                over = now - pair.Value.Start >= _minute;
            }

            if (over && _windows.TryRemove(pair))
            {
                Interlocked.Decrement(ref _tracked);
            }
        }
    }

    private sealed class Window(long start)
    {
        public long Start = start;
        public int Count;
    }
}
