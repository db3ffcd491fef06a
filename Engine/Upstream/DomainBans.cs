using System.Collections.Concurrent;

namespace Engine.Upstream;

/// <summary>
/// Per-(node, target domain) bans: a node that a site blocks (refuses, resets, times out through
/// it) stops being chosen for that site for a TTL while it keeps serving every other site.
/// Only failures write here; the common path reads one counter and skips the lookup when no
/// ban exists.
/// </summary>
internal sealed class DomainBans
{
    private readonly ConcurrentDictionary<(int Node, string Domain), Entry> _entries = new();
    private readonly NodeHealthPolicy _policy;
    private int _count;

    public DomainBans(NodeHealthPolicy policy) => _policy = policy;

    public int Count => Volatile.Read(ref _count);

    public bool IsBanned(int node, string domain, long now) =>
        Volatile.Read(ref _count) != 0
        && _entries.TryGetValue((node, domain), out Entry? entry)
        && Volatile.Read(ref entry.BannedUntil) > now;

    /// <returns>True when this failure banned the pair.</returns>
    public bool RecordFailure(int node, string domain, long now)
    {
        Entry entry = _entries.GetOrAdd((node, domain), static _ => new Entry());
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

    /// <summary>A success through the node clears the pair's failure count.</summary>
    public void RecordSuccess(int node, string domain)
    {
        if (Volatile.Read(ref _count) != 0 && _entries.TryGetValue((node, domain), out Entry? entry))
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
        foreach (KeyValuePair<(int Node, string Domain), Entry> pair in previous._entries)
        {
            if (indexMap.TryGetValue(pair.Key.Node, out int node) && _entries.TryAdd((node, pair.Key.Domain), pair.Value.Clone()))
            {
                Interlocked.Increment(ref _count);
            }
        }
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
