using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Engine.Transport;

/// <summary>
/// Free objects of one kind shared by every thread, at most <c>capacity</c> of them: what comes back
/// beyond that is left to the GC, so a burst does not pin its peak for good. The count is kept beside
/// the queue (<see cref="ConcurrentQueue{T}.Count"/> is not cheap: it was in a keep-alive profile).
/// </summary>
internal sealed class BoundedPool<T>(int capacity)
{
    private readonly ConcurrentQueue<T> _items = new();
    private int _count;

    /// <summary>Objects waiting to be taken (may briefly count one being put back).</summary>
    public int Count => Volatile.Read(ref _count);

    public bool TryTake([MaybeNullWhen(false)] out T item)
    {
        if (Volatile.Read(ref _count) == 0 || !_items.TryDequeue(out item))
        {
            item = default;
            return false;
        }

        Interlocked.Decrement(ref _count);
        return true;
    }

    /// <summary>Keeps <paramref name="item"/> for the next taker; false when the pool is full (the caller lets it go).</summary>
    public bool TryKeep(T item)
    {
        if (Interlocked.Increment(ref _count) <= capacity)
        {
            _items.Enqueue(item);
            return true;
        }

        Interlocked.Decrement(ref _count);
        return false;
    }
}
