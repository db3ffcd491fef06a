using System.Collections.Concurrent;

namespace Engine.Upstream;

/// <summary>
/// Per-(node, target domain) bans: a node that a site blocks (refuses, resets, times out through
/// it) stops being chosen for that site for a TTL while it keeps serving every other site.
/// Only failures write here; the common path reads one counter and skips the lookup when no
/// ban exists.
/// </summary>
/// <remarks>
/// Domains are keyed as one spelling: names lower-cased without a trailing dot, IP literals in
/// their canonical form (4,096 spellings of ::1 are one entry). The table has a hard cap
/// (<see cref="MaxEntries"/> pairs): when a new pair finds it full, pairs whose ban and failure
/// window are over are dropped, then pairs that are only counting failures (not banned); if
/// every entry is a live ban the new pair is not tracked. Either way <see cref="Evicted"/>
/// counts it (<c>engine_tables_evicted_total{table="domain_bans"}</c>).
/// </remarks>
internal sealed class DomainBans
{
    /// <summary>~150 B a pair: 100 000 pairs are ~15 MB, far more than a fleet's real (node, site) blocks.</summary>
    public const int DefaultMaxEntries = 100_000;

    private readonly ConcurrentDictionary<(int Node, string Domain), Entry> _entries = new();
    private readonly NodeHealthPolicy _policy;
    private int _count;
    private long _evicted;
    private long _lastFullWalk = long.MinValue / 2;

    public DomainBans(NodeHealthPolicy policy, int maxEntries = DefaultMaxEntries)
    {
        _policy = policy;
        MaxEntries = maxEntries;
    }

    public int MaxEntries { get; }

    /// <summary>Pairs tracked (banned or counting failures).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Pairs dropped or not added because the table was full.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    public bool IsBanned(int node, string domain, long now) =>
        Volatile.Read(ref _count) != 0
        && _entries.TryGetValue((node, Normalize(domain)), out Entry? entry)
        && Volatile.Read(ref entry.BannedUntil) > now;

    /// <returns>True when this failure banned the pair.</returns>
    public bool RecordFailure(int node, string domain, long now)
    {
        (int, string) key = (node, Normalize(domain));
        if (!_entries.TryGetValue(key, out Entry? entry))
        {
            if (Volatile.Read(ref _count) >= MaxEntries && !MakeRoom(now))
            {
                Interlocked.Increment(ref _evicted);
                return false;
            }

            entry = _entries.GetOrAdd(key, static _ => new Entry());
        }

        lock (entry)
        {
            if (entry.IsNew)
            {
                entry.IsNew = false;
                Interlocked.Increment(ref _count);
            }

            if (now - entry.WindowStart > _policy.DomainBanTtl)
            {
                entry.WindowStart = now;
                entry.Failures = 0;
            }

            if (++entry.Failures < _policy.DomainBanFailures)
            {
                return false;
            }

            entry.Failures = 0;
            entry.WindowStart = now;
            Volatile.Write(ref entry.BannedUntil, now + _policy.DomainBanTtl);
            return true;
        }
    }

    /// <summary>
    /// One spelling per domain: lower case, no trailing dot, IP literals canonical. Allocates only
    /// for a spelling that is not already the canonical one.
    /// </summary>
    internal static string Normalize(string domain)
    {
        if (domain.Length == 0)
        {
            return domain;
        }

        char first = domain[0];
        if (char.IsAsciiDigit(first) || first == '[' || domain.Contains(':'))
        {
            ReadOnlySpan<char> literal = first == '[' && domain[^1] == ']' ? domain.AsSpan(1, domain.Length - 2) : domain;
            if (System.Net.IPAddress.TryParse(literal, out System.Net.IPAddress? address))
            {
                if (address.IsIPv4MappedToIPv6)
                {
                    address = address.MapToIPv4();
                }

                else if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
                {
                    address.ScopeId = 0;
                }
                string canonical = address.ToString();
                return canonical == domain ? domain : canonical;
            }
        }

        bool trailingDot = domain.Length > 1 && domain[^1] == '.';
        if (!trailingDot && !HasUpper(domain))
        {
            return domain;
        }

        return (trailingDot ? domain[..^1] : domain).ToLowerInvariant();
    }

    // A loop: MemoryExtensions.ContainsAnyInRange on chars allocated 96 B a call here (measured).
    private static bool HasUpper(string text)
    {
        foreach (char c in text)
        {
            if (char.IsAsciiLetterUpper(c))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Frees a slot for a new pair: over pairs first, then pairs only counting failures.</summary>
    private bool MakeRoom(long now)
    {
        // A table full of live bans is walked at most once a second, not once per failure.
        long last = Interlocked.Read(ref _lastFullWalk);
        if (now - last < _policy.Second || Interlocked.CompareExchange(ref _lastFullWalk, now, last) != last)
        {
            return false;
        }

        Sweep(now);
        if (Volatile.Read(ref _count) < MaxEntries)
        {
            return true;
        }

        foreach (KeyValuePair<(int Node, string Domain), Entry> pair in _entries)
        {
            if (Volatile.Read(ref pair.Value.BannedUntil) <= now && _entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _count);
                Interlocked.Increment(ref _evicted);
                return true;
            }
        }

        return false;
    }

    /// <summary>A success through the node clears the pair's failure count.</summary>
    public void RecordSuccess(int node, string domain)
    {
        if (Volatile.Read(ref _count) != 0 && _entries.TryGetValue((node, Normalize(domain)), out Entry? entry))
        {
            lock (entry)
            {
                entry.Failures = 0;
            }
        }
    }

    /// <summary>Takes over another pool's bans for the nodes in <paramref name="indexMap"/> (old index → new index).</summary>
    public void CopyFrom(DomainBans previous, IReadOnlyDictionary<int, int> indexMap)
    {
        Interlocked.Add(ref _evicted, previous.Evicted);   // a counter: it carries on across reloads
        foreach (KeyValuePair<(int Node, string Domain), Entry> pair in previous._entries)
        {
            if (indexMap.TryGetValue(pair.Key.Node, out int node) && _entries.TryAdd((node, pair.Key.Domain), pair.Value.Clone()))
            {
                Interlocked.Increment(ref _count);
            }
        }
    }

    /// <summary>Pairs banned right now (the <c>engine_nodes_domain_bans</c> gauge; walks every pair, at most <see cref="MaxEntries"/>).</summary>
    public int CountBanned(long now)
    {
        int banned = 0;
        foreach (KeyValuePair<(int Node, string Domain), Entry> pair in _entries)
        {
            if (Volatile.Read(ref pair.Value.BannedUntil) > now)
            {
                banned++;
            }
        }

        return banned;
    }

    /// <summary>Adds one to <paramref name="perNode"/>[node] for every pair banned now (admin API; walks every pair).</summary>
    public void CountBanned(Span<int> perNode, long now)
    {
        foreach (KeyValuePair<(int Node, string Domain), Entry> pair in _entries)
        {
            if (Volatile.Read(ref pair.Value.BannedUntil) > now && (uint)pair.Key.Node < (uint)perNode.Length)
            {
                perNode[pair.Key.Node]++;
            }
        }
    }

    /// <summary>Drops pairs whose ban and failure window are over (called by the periodic sweep).</summary>
    public void Sweep(long now)
    {
        foreach (KeyValuePair<(int Node, string Domain), Entry> pair in _entries)
        {
            Entry entry = pair.Value;
            if (Volatile.Read(ref entry.BannedUntil) <= now && now - entry.WindowStart > _policy.DomainBanTtl
                && _entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _count);
            }
        }
    }

    private sealed class Entry
    {
        public Entry Clone()
        {
            lock (this)
            {
                return new Entry { IsNew = false, Failures = Failures, WindowStart = WindowStart, BannedUntil = BannedUntil };
            }
        }

        public bool IsNew = true;
        public int Failures;
        public long WindowStart;
        public long BannedUntil;
    }
}
