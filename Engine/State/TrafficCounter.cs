namespace Engine.State;

/// <summary>One package's bytes as a shared store sees them: the total in Redis at the last sync, plus what this instance has not flushed yet.</summary>
internal sealed class TrafficCounter
{
    /// <summary>The total in Redis at the last flush (written by the flush only, one at a time).</summary>
    public long Shared;

    public long Pending;

    /// <summary>Its period is over: flushed only while it has pending bytes, never read back.</summary>
    public volatile bool Retired;

    // Shared + Pending as one word: a reader never sees a flush half applied (the total that already
    // holds the sent bytes next to the Pending that still holds them, or the other way round).
    private long _used;

    public long Used => Volatile.Read(ref _used);

    public void Add(long bytes)
    {
        Interlocked.Add(ref Pending, bytes);
        Interlocked.Add(ref _used, bytes);
    }

    /// <summary>A flush sent <paramref name="sent"/> of the pending bytes and Redis answered <paramref name="total"/>.</summary>
    public void Flushed(long sent, long total)
    {
        long before = Shared;
        Volatile.Write(ref Shared, total);
        Interlocked.Add(ref Pending, -sent);
        Interlocked.Add(ref _used, total - before - sent);
    }
}
