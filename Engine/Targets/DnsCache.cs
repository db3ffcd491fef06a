using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Engine.Targets;

/// <summary>
/// Asynchronous name resolution with a TTL cache. The OS resolver does not expose record TTLs,
/// so entries live for a configured time (positive answers longer than negative ones, the way
/// nscd and systemd-resolved treat NXDOMAIN). Concurrent lookups of one name share one query.
/// At most <see cref="MaxEntries"/> names are kept (a hard cap, see <see cref="MakeRoom"/>).
/// </summary>
internal sealed class DnsCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;
    private readonly TimeProvider _time;
    private readonly TimeSpan _positiveTtl;
    private readonly TimeSpan _negativeTtl;
    private readonly int _maxEntries;
    private readonly Lock _makeRoom = new();
    private long _evicted;

    // IP literals, parsed once: a fleet aiming at addresses (APIs by IP, a benchmark's origin)
    // otherwise parsed the literal and allocated its address and a one-element answer on every
    // request. Bounded without eviction: once full, further literals are parsed per request as
    // before, so a stream of random literals cannot churn it or the names above.
    private const int MaxLiterals = 1024;
    private readonly ConcurrentDictionary<string, ResolveResult> _literals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ResolveResult>.AlternateLookup<ReadOnlySpan<char>> _literalLookup;
    private int _literalCount;

    public DnsCache(
        TimeSpan positiveTtl,
        TimeSpan negativeTtl,
        int maxEntries = 65_536,
        TimeProvider? time = null,
        Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
    {
        _positiveTtl = positiveTtl;
        _negativeTtl = negativeTtl;
        _maxEntries = maxEntries;
        _time = time ?? TimeProvider.System;
        _resolve = resolve ?? ((host, ct) => Dns.GetHostAddressesAsync(host, ct));
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        _literalLookup = _literals.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _entries.Count;

    public int MaxEntries => _maxEntries;

    /// <summary>Fresh entries dropped because the cache was full (<c>engine_tables_evicted_total{table="dns"}</c>).</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Resolves <paramref name="host"/>; IP literals never reach the resolver.</summary>
    public ValueTask<ResolveResult> ResolveAsync(ReadOnlySpan<char> host, CancellationToken cancellationToken)
    {
        if (_literalLookup.TryGetValue(host, out ResolveResult known))
        {
            return new ValueTask<ResolveResult>(known);
        }

        if (IPAddress.TryParse(host, out IPAddress? literal))
        {
            var parsed = new ResolveResult(ResolveStatus.Resolved, [literal]);
            if (Volatile.Read(ref _literalCount) < MaxLiterals && _literalLookup.TryAdd(host, parsed))
            {
                Interlocked.Increment(ref _literalCount);
            }

            return new ValueTask<ResolveResult>(parsed);
        }

        long now = _time.GetTimestamp();
        if (_lookup.TryGetValue(host, out Entry? entry) && entry.IsFresh(now, _time))
        {
            Task<Answer> pending = entry.Answer;
            if (pending.IsCompletedSuccessfully)
            {
                return new ValueTask<ResolveResult>(pending.Result.Result);
            }

            return WaitAsync(pending, cancellationToken);
        }

        return StartLookup(host.ToString(), now, cancellationToken);
    }

    private ValueTask<ResolveResult> StartLookup(string host, long now, CancellationToken cancellationToken)
    {
        if (_entries.Count >= _maxEntries)
        {
            MakeRoom(now);
        }

        var fresh = new Entry(now, QueryAsync(host));
        Entry winner = _entries.AddOrUpdate(host, fresh, (_, old) => old.IsFresh(now, _time) ? old : fresh);
        return WaitAsync(winner.Answer, cancellationToken);
    }

    private async Task<Answer> QueryAsync(string host)
    {
        // The shared query is not tied to one caller's token: a caller giving up must not
        // fail the lookup for everyone waiting on the same name.
        try
        {
            IPAddress[] addresses = await _resolve(host, CancellationToken.None).ConfigureAwait(false);
            return addresses.Length == 0
                ? new Answer(ResolveResult.NotFound, _negativeTtl)
                : new Answer(new ResolveResult(ResolveStatus.Resolved, addresses), _positiveTtl);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData)
        {
            return new Answer(ResolveResult.NotFound, _negativeTtl);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            // Temporary resolver failures are not cached beyond the negative TTL.
            return new Answer(ResolveResult.Failed, _negativeTtl);
        }
    }

    private static async ValueTask<ResolveResult> WaitAsync(Task<Answer> pending, CancellationToken cancellationToken)
    {
        try
        {
            return (await pending.WaitAsync(cancellationToken).ConfigureAwait(false)).Result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ResolveResult.TimedOut;
        }
    }

    /// <summary>
    /// The cap is hard: stale entries go first; if the table is still full (a flood of distinct
    /// names within a TTL), entries are dropped in the dictionary's order (hash order, close to
    /// random) until 1/16 of the cap is free, so the walk is paid once per 1/16 of the cap added.
    /// A dropped name is simply resolved again when next asked.
    /// </summary>
    private void MakeRoom(long now)
    {
        lock (_makeRoom)
        {
            if (_entries.Count < _maxEntries)
            {
                return;
            }

            Sweep(now);
            int target = _maxEntries - Math.Max(1, _maxEntries / 16);
            foreach (KeyValuePair<string, Entry> pair in _entries)
            {
                if (_entries.Count <= target)
                {
                    break;
                }

                if (_entries.TryRemove(pair))
                {
                    Interlocked.Increment(ref _evicted);
                }
            }
        }
    }

    private void Sweep(long now)
    {
        foreach (KeyValuePair<string, Entry> pair in _entries)
        {
            if (!pair.Value.IsFresh(now, _time))
            {
                _entries.TryRemove(pair);
            }
        }
    }

    private readonly record struct Answer(ResolveResult Result, TimeSpan Ttl);

    private sealed class Entry(long created, Task<Answer> answer)
    {
        public Task<Answer> Answer { get; } = answer;

        // Until the query completes the entry is fresh (callers join it); then its TTL applies.
        public bool IsFresh(long now, TimeProvider time) =>
            !Answer.IsCompletedSuccessfully ? !Answer.IsCompleted : time.GetElapsedTime(created, now) < Answer.Result.Ttl;
    }
}
