using Engine.Transport;

namespace Engine.Tests.Transport;

public class BoundedPoolTests
{
    [Fact]
    public void TryKeep_UpToCapacity_ThenRefuses_AndTakesGiveEachBackOnce()
    {
        var pool = new BoundedPool<object>(capacity: 2);
        object first = new(), second = new(), third = new();
        Assert.False(pool.TryTake(out _));
        Assert.True(pool.TryKeep(first));
        Assert.True(pool.TryKeep(second));
        Assert.False(pool.TryKeep(third));   // full: the caller lets it go
        Assert.Equal(2, pool.Count);

        Assert.True(pool.TryTake(out object? a));
        Assert.True(pool.TryTake(out object? b));
        Assert.False(pool.TryTake(out _));
        Assert.Equal(0, pool.Count);
        Assert.Equivalent(new[] { first, second }, new[] { a, b });
        Assert.True(pool.TryKeep(third));   // room again
    }

    // Four threads hand their own objects to the pool and take others back; each object is owned by
    // exactly one place at a time (a thread's hand or the pool), so at the end every one is found
    // exactly once, and the pool holds no more than its capacity. (Its count may pass the capacity
    // for an instant while a refused keep takes its increment back, so only the end is checked.)
    [Fact]
    public async Task ConcurrentKeepAndTake_NeverHoldsMoreThanCapacity_NorLosesOrDuplicatesAnItem()
    {
        const int Capacity = 16;
        var pool = new BoundedPool<object>(Capacity);
        var hands = Enumerable.Range(0, 4).Select(_ => new Stack<object>(Enumerable.Range(0, 32).Select(_ => new object()))).ToArray();
        HashSet<object> all = new(hands.SelectMany(h => h), ReferenceEqualityComparer.Instance);
        await Task.WhenAll(hands.Select(hand => Task.Run(() =>
        {
            for (int round = 0; round < 20_000; round++)
            {
                if (round % 2 == 0 && hand.Count > 0)
                {
                    object item = hand.Pop();
                    if (!pool.TryKeep(item))
                    {
                        hand.Push(item);   // refused: still this thread's
                    }
                }
                else if (pool.TryTake(out object? taken))
                {
                    hand.Push(taken);
                }
            }
        })));

        var found = new List<object>(hands.SelectMany(h => h));
        int pooled = 0;
        while (pool.TryTake(out object? left))
        {
            found.Add(left);
            pooled++;
        }

        Assert.InRange(pooled, 0, Capacity);
        Assert.Equal(all.Count, found.Count);
        Assert.True(all.SetEquals(found));
        Assert.Equal(0, pool.Count);
    }
}
