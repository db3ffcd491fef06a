using Engine.State;
using Engine.Tests.Forwarding;
using Engine.Upstream;
using Engine.Sessions;
using Engine.Tests.State;

namespace Engine.Tests.Sessions;

/// <summary>
/// The session contract against a real redis-server (the manual clock is added to Redis's TIME),
/// and what only a shared store can do: one session seen by two instances.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionStoreTests(RedisFixture redis) : SessionStoreContract, IClassFixture<RedisFixture>
{
    private readonly string _prefix = RedisFixture.NewPrefix();
    private readonly List<RedisStateStore> _stores = [];

    private RedisStateStore NewInstance(TimeProvider? clock = null)
    {
        RedisStateStore store = redis.Store(_prefix, clock);
        _stores.Add(store);
        return store;
    }

    private protected override ISessionStore CreateStore(ManualTimeProvider time)
    {
        RedisStateStore store = NewInstance(time);
        Assert.False(store.IsDegraded);
        return store.Sessions;
    }

    private protected override async ValueTask DisposeStoreAsync()
    {
        foreach (RedisStateStore store in _stores)
        {
            await store.DisposeAsync();
        }

        // A fallback to local sessions would test the memory store, not Redis.
        Assert.All(_stores, store => Assert.Equal(0, store.DegradedTransitions));
    }

    [SkippableFact]
    public async Task Open_ViaAnotherInstance_ResumesWithTheSameNode()
    {
        ISessionStore a = NewInstance().Sessions;
        ISessionStore b = NewInstance().Sessions;
        Assert.Equal(SessionOpenStatus.Created, (await a.OpenAsync("p", B("x1"), B("country-us"), Terms())).Status);
        await a.CommitAsync("p", B("x1"), null, "n7");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n7"), await b.OpenAsync("p", B("x1"), B("country-us"), Terms()));
        await b.CommitAsync("p", B("x1"), "n7", "n7");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n7"), await a.OpenAsync("p", B("x1"), B("country-us"), Terms()));
    }

    [SkippableFact]
    public async Task Open_OtherRulesViaAnotherInstance_IsMismatch()
    {
        ISessionStore a = NewInstance().Sessions;
        ISessionStore b = NewInstance().Sessions;
        await a.OpenAsync("p", B("x2"), B("country-us"), Terms());
        Assert.Equal(SessionOpenStatus.Mismatch, (await b.OpenAsync("p", B("x2"), B("country-de"), Terms())).Status);
    }

    [SkippableFact]
    public async Task Commit_RacingInstances_FirstRebindingWins()
    {
        ISessionStore a = NewInstance().Sessions;
        ISessionStore b = NewInstance().Sessions;
        await a.OpenAsync("p", B("x3"), B("country-us"), Terms());
        await Task.WhenAll(
            Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? a : b).CommitAsync("p", B("x3"), null, $"n{i}").AsTask()));
        string? bound = (await b.OpenAsync("p", B("x3"), B("country-us"), Terms())).NodeId;
        Assert.NotNull(bound);
        Assert.Equal(bound, (await a.OpenAsync("p", B("x3"), B("country-us"), Terms())).NodeId);
    }
}
