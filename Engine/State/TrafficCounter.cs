namespace Engine.State;

/// <summary>One package's bytes as a shared store sees them: the total in Redis at the last sync, plus what this instance has not flushed yet.</summary>
internal sealed class TrafficCounter
{
    public long Shared;

    public long Pending;

    public long Used => Volatile.Read(ref Shared) + Volatile.Read(ref Pending);
}
