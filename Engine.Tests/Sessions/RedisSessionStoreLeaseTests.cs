using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engine.Sessions;
using Engine.State;
using Engine.Tests.State;
using StackExchange.Redis;

namespace Engine.Tests.Sessions;

/// <summary>
/// The near cache of <see cref="RedisSessionStore"/> (docs/scale-out.md "Near cache"): two stores on one
/// real redis-server, as two engine instances. The instance that opens a session twice in a row holds
/// it and serves it without Redis; the other instance must still see every rebinding, rotation count,
/// use and expiry the holder made, and get the session handed over promptly.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisSessionStoreLeaseTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly string _prefix = RedisFixture.NewPrefix();
    private readonly List<RedisStateStore> _stores = [];

    // Long enough that only the pub/sub handoff (not the lease running out) can pass the 5 s bounds below.
    private static readonly TimeSpan LongLease = TimeSpan.FromSeconds(30);

    private static readonly ReadOnlyMemory<byte> Rules = Encoding.ASCII.GetBytes("country-us");

    private async Task<RedisStateStore> NewInstance(TimeSpan? lease = null)
    {
        RedisStateStore store = await redis.StoreAsync(_prefix, sessionLease: lease ?? LongLease);
        _stores.Add(store);
        Assert.False(store.IsDegraded);
        return store;
    }

    private static ReadOnlyMemory<byte> Id(string id) => Encoding.ASCII.GetBytes(id);

    private static int Held(RedisStateStore store) => ((RedisSessionStore)store.Sessions).HeldLeases;

    /// <summary>What the router does for a request: look up, then bind the node that carried it.</summary>
    private static async Task<SessionOpened> RequestAsync(ISessionStore store, string id, SessionTerms terms, string node)
    {
        SessionOpened opened = await store.OpenAsync("p", Id(id), Rules, terms, create: false);
        Assert.NotEqual(SessionOpenStatus.Mismatch, opened.Status);
        Assert.True(await store.BindAsync("p", Id(id), Rules, terms, opened.NodeId ?? opened.PreviousNodeId, opened.NodeId ?? node));
        return opened;
    }

    [SkippableFact]
    public async Task Open_TwiceOnOneInstance_HoldsTheSession_LaterRequestsSendNothingToRedis()
    {
        RedisStateStore a = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, 0);
        await RequestAsync(a.Sessions, "k1", terms, "n1");
        Assert.Equal(0, Held(a));
        await RequestAsync(a.Sessions, "k1", terms, "n1");
        Assert.Equal(1, Held(a));

        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(redis.Server!.ConfigurationString + ",allowAdmin=true");
        IServer server = direct.GetServer(redis.Server!.EndPoint);
        await server.ConfigResetStatisticsAsync();
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n1"), await RequestAsync(a.Sessions, "k1", terms, "n1"));
        }

        Dictionary<string, string> stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(kv => kv.Key, kv => kv.Value);
        // 2,000 store calls; the background loop's flush and write-back may add a few scripts of their own.
        int calls = stats.TryGetValue("cmdstat_evalsha", out string? evalsha) ? int.Parse(evalsha.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture) : 0;
        Assert.True(calls < 50, $"{calls} scripts for 1,000 held requests");
        Assert.Equal(1001 + 1, (await a.Sessions.GetAsync("p", Id("k1")))!.RequestsOnNode);
    }

    [SkippableFact]
    public async Task RotateRequests_CountedOnTheHolder_ContinueExactlyOnTheOtherInstance()
    {
        RedisStateStore a = await NewInstance();
        RedisStateStore b = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, RotateRequests: 5);
        await RequestAsync(a.Sessions, "r1", terms, "n1");   // 1, creates
        await RequestAsync(a.Sessions, "r1", terms, "n1");   // 2, a takes the lease
        await RequestAsync(a.Sessions, "r1", terms, "n1");   // 3, counted on a only
        Assert.Equal(1, Held(a));

        var handoff = Stopwatch.StartNew();
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n1"), await RequestAsync(b.Sessions, "r1", terms, "n1"));   // 4
        Assert.True(handoff.Elapsed < TimeSpan.FromSeconds(5), $"the handoff took {handoff.Elapsed} (the lease is {LongLease})");
        Assert.Equal(0, Held(a));

        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n1"), await RequestAsync(a.Sessions, "r1", terms, "n1"));   // 5
        SessionOpened sixth = await b.Sessions.OpenAsync("p", Id("r1"), Rules, terms, create: false);
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, PreviousNodeId: "n1"), sixth);
    }

    [SkippableFact]
    public async Task Rebind_OnTheHolder_IsTheNodeTheOtherInstanceSees_AndBack()
    {
        RedisStateStore a = await NewInstance();
        RedisStateStore b = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, 0);
        await RequestAsync(a.Sessions, "b1", terms, "n1");
        await RequestAsync(a.Sessions, "b1", terms, "n1");
        Assert.Equal(1, Held(a));
        Assert.True(await a.Sessions.BindAsync("p", Id("b1"), Rules, terms, "n1", "n2"));   // the node failed: replaced on a

        Assert.Equal("n2", (await RequestAsync(b.Sessions, "b1", terms, "x")).NodeId);
        Assert.Equal("n2", (await RequestAsync(b.Sessions, "b1", terms, "x")).NodeId);
        Assert.Equal(1, Held(b));
        Assert.True(await b.Sessions.BindAsync("p", Id("b1"), Rules, terms, "n2", "n3"));

        Assert.Equal("n3", (await RequestAsync(a.Sessions, "b1", terms, "x")).NodeId);
        Assert.Equal(0, Held(b));
    }

    [SkippableFact]
    public async Task IdleTtl_RealTime_UsesOnTheHolderKeepItAlive_ThenItExpiresInRedisForBoth()
    {
        RedisStateStore a = await NewInstance(TimeSpan.FromSeconds(2));
        RedisStateStore b = await NewInstance(TimeSpan.FromSeconds(2));
        // Idle 2 s: a 250 ms step has 1.75 s of margin before a loaded box lets the session idle out
        // between two uses (with 1 s, a full-suite run beside a native publish lost it once).
        var terms = new SessionTerms(600, IdleTtlSeconds: 2, 0, 0);
        await RequestAsync(a.Sessions, "i1", terms, "n1");
        await RequestAsync(a.Sessions, "i1", terms, "n1");
        Assert.Equal(1, Held(a));

        // 4.5 s of uses 250 ms apart, all on a (held): more than twice the idle time, never idle for it.
        for (int i = 0; i < 18; i++)
        {
            long step = Stopwatch.GetTimestamp();
            await Task.Delay(250);
            SessionOpened opened = await RequestAsync(a.Sessions, "i1", terms, "x");
            Assert.True(opened.NodeId == "n1", $"use {i + 1}: {opened} after {Stopwatch.GetElapsedTime(step).TotalMilliseconds:F0} ms; degraded {a.IsDegraded}, held {Held(a)}");
        }

        var clock = Stopwatch.StartNew();   // before b's use: its idle second runs from a moment after this
        Assert.Equal("n1", (await RequestAsync(b.Sessions, "i1", terms, "x")).NodeId);

        // Now nobody uses it: Redis drops the key by its TTL once the idle time is over (bounded wait).
        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(redis.Server!.ConfigurationString);
        RedisKey key = new RedisKeys(_prefix).Session("p", "i1"u8);
        while (await direct.GetDatabase().KeyExistsAsync(key))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(11), "the idle session's key outlived its TTL by 9 s");
            await Task.Delay(50);
        }

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1900), $"the key went after {clock.Elapsed}, before its idle time");
        Assert.Equal(SessionOpenStatus.Absent, (await a.Sessions.OpenAsync("p", Id("i1"), Rules, terms, create: false)).Status);
        Assert.Equal(SessionOpenStatus.Absent, (await b.Sessions.OpenAsync("p", Id("i1"), Rules, terms, create: false)).Status);
    }

    [SkippableFact]
    public async Task Get_OnTheOtherInstance_SeesTheHoldersCounts()
    {
        RedisStateStore a = await NewInstance();
        RedisStateStore b = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, 0);
        for (int i = 0; i < 4; i++)
        {
            await RequestAsync(a.Sessions, "g1", terms, "n1");
        }

        Assert.Equal(1, Held(a));
        SessionInfo? info = await b.Sessions.GetAsync("p", Id("g1"));
        Assert.NotNull(info);
        Assert.Equal("n1", info.NodeId);
        Assert.Equal(4, info.RequestsOnNode);
    }

    [SkippableFact]
    public async Task Delete_OnTheOtherInstance_EndsTheHeldSession()
    {
        RedisStateStore a = await NewInstance();
        RedisStateStore b = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, 0);
        await RequestAsync(a.Sessions, "d1", terms, "n1");
        await RequestAsync(a.Sessions, "d1", terms, "n1");
        Assert.Equal(1, Held(a));

        Assert.True(await b.Sessions.DeleteAsync("p", Id("d1")));
        Assert.Equal(SessionOpenStatus.Absent, (await a.Sessions.OpenAsync("p", Id("d1"), Rules, terms, create: false)).Status);
        Assert.Null(await b.Sessions.GetAsync("p", Id("d1")));
    }

    [SkippableFact]
    public async Task Alternating_Instances_NeverHoldALease()
    {
        RedisStateStore a = await NewInstance();
        RedisStateStore b = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, 0);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(i == 0 ? null : "n1", (await RequestAsync(i % 2 == 0 ? a.Sessions : b.Sessions, "alt", terms, "n1")).NodeId);
        }

        // A session a balancer spreads over instances stays in Redis: no handoff per request.
        Assert.Equal(0, Held(a) + Held(b));
    }

    [SkippableFact]
    public async Task Stop_ReleasesHeldSessions_TheOtherInstanceGetsThemWithoutWaiting()
    {
        RedisStateStore a = await NewInstance();
        RedisStateStore b = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, RotateRequests: 3);
        for (int i = 0; i < 3; i++)
        {
            await RequestAsync(a.Sessions, "s1", terms, "n1");   // the third is counted on a only
        }

        Assert.Equal(1, Held(a));
        _stores.Remove(a);
        await a.DisposeAsync();

        var clock = Stopwatch.StartNew();
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, PreviousNodeId: "n1"), await b.Sessions.OpenAsync("p", Id("s1"), Rules, terms, create: false));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{clock.Elapsed} (the lease is {LongLease})");
    }

    [SkippableFact]
    public async Task Open_WhileItsReleaseIsStillQueued_WaitsForIt_AndSeesTheHoldersLastBinding()
    {
        // 300 held sessions, each rebound on the holder (n1 -> n2, not yet in Redis). A release writes
        // them back 256 to a script, the next script sent once the first is answered, so the sessions
        // of the second batch are let go here while their state is not in Redis yet. A request for one
        // of them then must not reach Redis before its release: Redis would grant this instance a new
        // lease on the old state (n1), and the release landing after it would clear that lease while
        // this instance serves from it.
        RedisStateStore a = await NewInstance();
        var store = (RedisSessionStore)a.Sessions;
        var terms = new SessionTerms(600, 0, 0, 0);
        const int Sessions = 300;
        for (int i = 0; i < Sessions; i++)
        {
            await RequestAsync(a.Sessions, "q" + i, terms, "n1");
            await RequestAsync(a.Sessions, "q" + i, terms, "n1");
            Assert.True(await a.Sessions.BindAsync("p", Id("q" + i), Rules, terms, "n1", "n2"));
        }

        Assert.Equal(Sessions, Held(a));

        Task release = store.ReleaseAllAsync();   // returns at its first await: the first batch is sent
        var opens = new Task<SessionOpened>[Sessions];
        for (int i = 0; i < Sessions; i++)
        {
            opens[i] = a.Sessions.OpenAsync("p", Id("q" + i), Rules, terms, create: false).AsTask();
        }

        await release;
        SessionOpened[] opened = await Task.WhenAll(opens);
        string[] stale = [.. Enumerable.Range(0, Sessions).Where(i => opened[i].NodeId != "n2").Select(i => $"q{i}: {opened[i]}")];
        Assert.True(stale.Length == 0, $"{stale.Length} of {Sessions} opened on a state older than the holder's: {string.Join(", ", stale.Take(5))}");

        // Redis and this instance agree on who holds each session: every lease held here is Redis's too.
        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(redis.Server!.ConfigurationString);
        var keys = new RedisKeys(_prefix);
        int disowned = 0;
        for (int i = 0; i < Sessions; i++)
        {
            RedisValue owner = await direct.GetDatabase().HashGetAsync(keys.Session("p", Encoding.ASCII.GetBytes("q" + i)), "own");
            disowned += owner.IsNullOrEmpty ? 1 : 0;
        }

        Assert.Equal(Held(a), Sessions - disowned);
    }

    [SkippableFact]
    public async Task Renewal_OfAWantedSession_HandsOverEveryRequestTheHolderServed()
    {
        // Another instance asked for the session and its release message was lost: the holder's
        // next renewal finds the session wanted and must hand it over with every request it served,
        // including those it served while that renewal was on its way to Redis.
        RedisStateStore a = await NewInstance(TimeSpan.FromSeconds(2));
        RedisStateStore b = await NewInstance();
        var terms = new SessionTerms(600, 0, 0, 0);
        await RequestAsync(a.Sessions, "w1", terms, "n1");
        await RequestAsync(a.Sessions, "w1", terms, "n1");
        Assert.Equal(1, Held(a));

        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(redis.Server!.ConfigurationString);
        IDatabase db = direct.GetDatabase();
        RedisKey key = new RedisKeys(_prefix).Session("p", "w1"u8);
        await db.HashSetAsync(key, "want", 1);

        // Requests back to back on the holder until its renewal (about a second in) has seen the flag.
        int made = 2;
        var clock = Stopwatch.StartNew();
        while (await db.HashExistsAsync(key, "want"))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the holder never renewed the wanted session");
            for (int i = 0; i < 200; i++)
            {
                Assert.Equal("n1", (await RequestAsync(a.Sessions, "w1", terms, "x")).NodeId);
                made++;
            }
        }

        for (int i = 0; i < 200; i++)
        {
            await RequestAsync(a.Sessions, "w1", terms, "x");
            made++;
        }

        _stores.Remove(a);
        await a.DisposeAsync();   // a graceful stop writes back what it still holds
        SessionInfo? info = await b.Sessions.GetAsync("p", Id("w1"));
        Assert.NotNull(info);
        Assert.Equal(made, info.RequestsOnNode);
    }

    /// <summary>Waits (bounded) until Redis names no lease holder of the session: a release has been written.</summary>
    private static async Task UntilUnownedAsync(IDatabase db, RedisKey key)
    {
        var clock = Stopwatch.StartNew();
        while (!(await db.HashGetAsync(key, "own")).IsNullOrEmpty)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the release never reached Redis");
            await Task.Delay(10);
        }
    }

    [SkippableFact]
    public async Task ReleaseRequest_ArrivingWhileThisInstancesOwnGrantIsInFlight_LeavesNoLocalLeaseRedisDoesNotName()
    {
        // b asked a (a holding the session) to release it, more than once (two requests on b, or a
        // retry). a released it on the first message; a's next request for it reopens it in Redis and
        // is granted the lease again (last = a). The second message arrives while that open is on its
        // way: the session is not in a's near cache yet, so a sends a release without state, which
        // Redis runs after the grant and which clears it. Then the grant's answer installs the lease here.
        RedisStateStore a = await NewInstance();
        RedisStateStore b = await NewInstance();
        var store = (RedisSessionStore)a.Sessions;
        var terms = new SessionTerms(600, 0, 0, 0);
        await RequestAsync(a.Sessions, "r2", terms, "n1");
        await RequestAsync(a.Sessions, "r2", terms, "n1");
        Assert.Equal(1, Held(a));

        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(redis.Server!.ConfigurationString + ",allowAdmin=true");
        IDatabase db = direct.GetDatabase();
        RedisKey key = new RedisKeys(_prefix).Session("p", "r2"u8);
        store.OnReleaseRequested("p\u0001r2");   // b's first message: a writes back and releases
        Assert.Equal(0, Held(a));
        await UntilUnownedAsync(db, key);

        // Redis holds every script back until the second message has been sent too, so they run in the
        // order a sent them: the open (which grants the lease again), then the release without state.
        await db.ExecuteAsync("CLIENT", "PAUSE", "5000", "WRITE");
        Task<SessionOpened> open;
        try
        {
            open = a.Sessions.OpenAsync("p", Id("r2"), Rules, terms, create: false).AsTask();
            store.OnReleaseRequested("p\u0001r2");   // b's second message, while that open is on its way
        }
        finally
        {
            await db.ExecuteAsync("CLIENT", "UNPAUSE");
        }

        Assert.Equal("n1", (await open).NodeId);
        await UntilUnownedAsync(db, key);

        RedisValue owner = await db.HashGetAsync(key, "own");
        Assert.True(Held(a) == 0 || !owner.IsNullOrEmpty, $"a holds {Held(a)} lease(s) locally, Redis names owner '{owner}'");

        // What that costs: a rebinds on its lease (the node failed), b never waits for a and sees the old node.
        Assert.True(await a.Sessions.BindAsync("p", Id("r2"), Rules, terms, "n1", "n2"));
        Assert.Equal("n2", (await b.Sessions.OpenAsync("p", Id("r2"), Rules, terms, create: false)).NodeId);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (RedisStateStore store in _stores)
        {
            await store.DisposeAsync();
        }

        // A fallback to local sessions would test the memory store, not Redis.
        Assert.All(_stores, store => Assert.Equal(0, store.DegradedTransitions));
    }
}
