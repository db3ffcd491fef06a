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

    private async Task<RedisStateStore> NewInstance(TimeProvider? clock = null)
    {
        RedisStateStore store = await redis.StoreAsync(_prefix, clock);
        _stores.Add(store);
        return store;
    }

    private protected override async Task<ISessionStore> CreateStoreAsync(ManualTimeProvider time)
    {
        RedisStateStore store = await NewInstance(time);
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
    public async Task Session_RealOneSecondLength_ExpiresInRedisByItsTtl()
    {
        // No clock shift: Redis's own TIME and key TTL end the session, as in production.
        RedisStateStore instance = await NewInstance();
        ISessionStore store = instance.Sessions;
        var terms = new SessionTerms(1, 0, 0, 0);
        Assert.Equal(SessionOpenStatus.Created, (await store.OpenAsync("p", B("ttl"), B("country-us"), terms)).Status);
        await store.CommitAsync("p", B("ttl"), null, "n1");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n1"), await store.OpenAsync("p", B("ttl"), B("country-us"), terms));

        await using StackExchange.Redis.ConnectionMultiplexer direct = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Server!.ConfigurationString);
        StackExchange.Redis.IDatabase db = direct.GetDatabase();
        StackExchange.Redis.RedisKey key = new Engine.State.RedisKeys(_prefix).Session("p", "ttl"u8);
        TimeSpan? ttl = await db.KeyTimeToLiveAsync(key);
        Assert.True(ttl is { } left && left > TimeSpan.Zero && left <= TimeSpan.FromSeconds(1), $"the session key's TTL is {ttl}");

        // Redis removes the key when its TTL runs out; 10 s bounds the wait (it takes about 1 s).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await db.KeyExistsAsync(key))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the session key outlived its TTL by 9 s");
            await Task.Delay(50);
        }

        Assert.Equal(SessionOpenStatus.Created, (await store.OpenAsync("p", B("ttl"), B("country-us"), terms)).Status);
        Assert.Equal(0, instance.DegradedTransitions);
    }

    [SkippableFact]
    public async Task Open_ViaAnotherInstance_ResumesWithTheSameNode()
    {
        ISessionStore a = (await NewInstance()).Sessions;
        ISessionStore b = (await NewInstance()).Sessions;
        Assert.Equal(SessionOpenStatus.Created, (await a.OpenAsync("p", B("x1"), B("country-us"), Terms())).Status);
        await a.CommitAsync("p", B("x1"), null, "n7");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n7"), await b.OpenAsync("p", B("x1"), B("country-us"), Terms()));
        await b.CommitAsync("p", B("x1"), "n7", "n7");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n7"), await a.OpenAsync("p", B("x1"), B("country-us"), Terms()));
    }

    [SkippableFact]
    public async Task Open_OtherRulesViaAnotherInstance_IsMismatch()
    {
        ISessionStore a = (await NewInstance()).Sessions;
        ISessionStore b = (await NewInstance()).Sessions;
        await a.OpenAsync("p", B("x2"), B("country-us"), Terms());
        Assert.Equal(SessionOpenStatus.Mismatch, (await b.OpenAsync("p", B("x2"), B("country-de"), Terms())).Status);
    }

    [SkippableFact]
    public async Task Commit_RacingInstances_FirstRebindingWins()
    {
        ISessionStore a = (await NewInstance()).Sessions;
        ISessionStore b = (await NewInstance()).Sessions;
        await a.OpenAsync("p", B("x3"), B("country-us"), Terms());
        await Task.WhenAll(
            Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? a : b).CommitAsync("p", B("x3"), null, $"n{i}").AsTask()));
        string? bound = (await b.OpenAsync("p", B("x3"), B("country-us"), Terms())).NodeId;
        Assert.NotNull(bound);
        Assert.Equal(bound, (await a.OpenAsync("p", B("x3"), B("country-us"), Terms())).NodeId);
    }
}
