using Engine.State;
using Engine.Tests.Forwarding;

namespace Engine.Tests.State;

public class TokenBucketTests
{
    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void TryTake_FullBucket_AdmitsExactlyTheRate_ThenRefillsAtTheRate()
    {
        var store = new MemoryStateStore(_time);
        int admitted = 0;
        for (int i = 0; i < 250; i++)
        {
            admitted += store.TakeToken("p", 100).Allowed ? 1 : 0;
        }

        Assert.Equal(100, admitted);
        _time.Advance(TimeSpan.FromMilliseconds(500));
        admitted = 0;
        for (int i = 0; i < 250; i++)
        {
            admitted += store.TakeToken("p", 100).Allowed ? 1 : 0;
        }

        Assert.Equal(50, admitted);
        _time.Advance(TimeSpan.FromSeconds(10));
        admitted = 0;
        for (int i = 0; i < 250; i++)
        {
            admitted += store.TakeToken("p", 100).Allowed ? 1 : 0;
        }

        Assert.Equal(100, admitted);   // never more than one second of burst
    }

    [Fact]
    public void TryTake_Empty_SaysWholeSecondsUntilTheNextToken()
    {
        var store = new MemoryStateStore(_time);
        Assert.True(store.TakeToken("slow", 1).Allowed);
        RateDecision refused = store.TakeToken("slow", 1);
        Assert.False(refused.Allowed);
        Assert.Equal(1, refused.RetryAfterSeconds);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(store.TakeToken("slow", 1).Allowed);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(store.TakeToken("slow", 1).Allowed);
    }

    [Fact]
    public void TryTake_PackagesHaveTheirOwnBuckets()
    {
        var store = new MemoryStateStore(_time);
        Assert.True(store.TakeToken("a", 1).Allowed);
        Assert.True(store.TakeToken("b", 1).Allowed);
        Assert.False(store.TakeToken("a", 1).Allowed);
    }

    [Fact]
    public async Task TryTake_Concurrent_NeverAdmitsMoreThanTheTokens()
    {
        var store = new MemoryStateStore(_time);
        int admitted = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                if (store.TakeToken("p", 500).Allowed)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        })));
        Assert.Equal(500, admitted);
    }

    [Fact]
    public void AddTraffic_CountsPerPackage_AndTowardTheCreditPool()
    {
        var store = new MemoryStateStore(_time);
        store.AddTraffic("a", 100);
        store.AddTraffic("b", 50);
        store.AddTraffic("a", 1);
        Assert.Equal(101, store.TrafficUsed("a"));
        Assert.Equal(50, store.TrafficUsed("b"));
        Assert.Equal(0, store.TrafficUsed("c"));
        Assert.Equal(151, store.CreditsUsed);
    }
}
