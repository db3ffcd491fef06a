using System.Text;
using Engine.Tests.Forwarding;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Tests.Sessions;

/// <summary>
/// What every <see cref="ISessionStore"/> must do (rules.md "Sessions"), run against each store:
/// the memory store and the Redis store must agree case by case. Time is a manual clock.
/// </summary>
public abstract class SessionStoreContract : IAsyncLifetime
{
    private ISessionStore? _store;

    private protected ManualTimeProvider Time { get; } = new();

    private protected ISessionStore Store => _store ?? throw new InvalidOperationException("InitializeAsync creates the store");

    /// <summary>A fresh, empty store whose expiry and rotation follow <paramref name="time"/>.</summary>
    private protected abstract Task<ISessionStore> CreateStoreAsync(ManualTimeProvider time);

    private protected virtual ValueTask DisposeStoreAsync() => ValueTask.CompletedTask;

    private protected static ReadOnlyMemory<byte> B(string s) => Encoding.ASCII.GetBytes(s);

    private protected static SessionTerms Terms(int length = 600, int idle = 0, int rotateSeconds = 0, int rotateRequests = 0) => new(length, idle, rotateSeconds, rotateRequests);

    // Awaited, never blocked on: a blocked test thread starves the pool the Redis client answers on.
    private protected ValueTask<SessionOpened> Open(string id = "s1", string rules = "country-us", SessionTerms? terms = null, string package = "p") =>
        Store.OpenAsync(package, B(id), B(rules), terms ?? Terms());

    private protected ValueTask Commit(string? expected, string node, string id = "s1", string package = "p") =>
        Store.CommitAsync(package, B(id), expected, node);

    [SkippableFact]
    public async Task Open_NewId_IsCreated_ThenResumedWithItsNode()
    {
        Assert.Equal(new SessionOpened(SessionOpenStatus.Created), await Open());
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed), await Open());
        await Commit(null, "n1");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n1"), await Open());
    }

    [SkippableFact]
    public async Task Open_SameIdOtherRules_IsMismatch_OtherPackageIsIndependent()
    {
        await Open();
        Assert.Equal(SessionOpenStatus.Mismatch, (await Open(rules: "country-de")).Status);
        Assert.Equal(SessionOpenStatus.Created, (await Open(rules: "country-de", package: "other")).Status);
    }

    [SkippableFact]
    public async Task Open_AfterSessionLength_StartsFresh_WithNewRules()
    {
        await Open(terms: Terms(length: 60));
        await Commit(null, "n1");
        Time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("n1", (await Open(terms: Terms(length: 60))).NodeId);
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(new SessionOpened(SessionOpenStatus.Created), await Open(rules: "country-de", terms: Terms(length: 60)));
    }

    [SkippableFact]
    public async Task Open_AfterIdleTtl_StartsFresh_EachUseExtendsIt()
    {
        await Open(terms: Terms(idle: 30));
        await Commit(null, "n1");
        for (int i = 0; i < 5; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(29));
            Assert.Equal("n1", (await Open(terms: Terms(idle: 30))).NodeId);
        }

        Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(SessionOpenStatus.Created, (await Open(terms: Terms(idle: 30))).Status);
    }

    [SkippableFact]
    public async Task Open_MismatchAgainstExpiredSession_IsNotAMismatch()
    {
        await Open(terms: Terms(idle: 30));
        Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(SessionOpenStatus.Created, (await Open(rules: "country-de", terms: Terms(idle: 30))).Status);
        Assert.Equal(SessionOpenStatus.Mismatch, (await Open(rules: "country-us", terms: Terms(idle: 30))).Status);
    }

    [SkippableFact]
    public async Task Open_RotateTimed_AsksForANewNodeNamingTheOldOne()
    {
        SessionTerms terms = Terms(rotateSeconds: 60);
        await Open(terms: terms);
        await Commit(null, "n1");
        Time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("n1", (await Open(terms: terms)).NodeId);
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, null, "n1"), await Open(terms: terms));
        await Commit("n1", "n2");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n2"), await Open(terms: terms));
    }

    [SkippableFact]
    public async Task Open_RotateRequests_CountsCommittedRequests()
    {
        SessionTerms terms = Terms(rotateRequests: 3);
        await Open(terms: terms);
        await Commit(null, "n1");
        Assert.Equal("n1", (await Open(terms: terms)).NodeId);
        await Commit("n1", "n1");
        Assert.Equal("n1", (await Open(terms: terms)).NodeId);
        await Commit("n1", "n1");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, null, "n1"), await Open(terms: terms));
        await Commit("n1", "n2");
        Assert.Equal("n2", (await Open(terms: terms)).NodeId);
    }

    [SkippableFact]
    public async Task Commit_WhenAnotherRequestReboundFirst_KeepsThatBinding()
    {
        await Open();
        await Commit(null, "n1");
        await Commit(null, "n2");   // lost the race: it expected no node, but n1 is bound
        Assert.Equal("n1", (await Open()).NodeId);
        await Commit("n1", "n3");
        Assert.Equal("n3", (await Open()).NodeId);
    }

    [SkippableFact]
    public async Task Commit_UnknownSession_DoesNotCreateIt()
    {
        await Commit(null, "n1", id: "ghost");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Created), await Open(id: "ghost"));
    }

    [SkippableFact]
    public async Task Sweep_KeepsLiveSessions_ExpiredOnesStartFresh()
    {
        await Open("short", terms: Terms(length: 10));
        await Commit(null, "n1", id: "short");
        await Open("long", terms: Terms(length: 1000));
        await Commit(null, "n2", id: "long");
        Time.Advance(TimeSpan.FromSeconds(11));
        Store.Sweep();
        Assert.Equal(SessionOpenStatus.Created, (await Open("short", terms: Terms(length: 10))).Status);
        Assert.Equal("n2", (await Open("long", terms: Terms(length: 1000))).NodeId);
    }

    [SkippableFact]
    public async Task Get_LiveSession_ReturnsNodeRequestsAndTerms()
    {
        await Open(terms: Terms(length: 600, idle: 120, rotateRequests: 5));
        await Commit(null, "n1");
        await Commit("n1", "n1");
        Time.Advance(TimeSpan.FromSeconds(30));

        SessionInfo? info = await Store.GetAsync("p", B("s1"));

        Assert.NotNull(info);
        Assert.Equal("n1", info.NodeId);
        Assert.Equal(2, info.RequestsOnNode);
        Assert.Equal(Terms(length: 600, idle: 120, rotateRequests: 5), info.Terms);
        Assert.InRange(info.Age.TotalSeconds, 29, 31);
        Assert.InRange(info.ExpiresIn.TotalSeconds, 89, 91);   // idle (120 − 30) ends before length (600 − 30)
    }

    [SkippableFact]
    public async Task Get_UnknownExpiredOrOtherPackage_ReturnsNull()
    {
        Assert.Null(await Store.GetAsync("p", B("nope")));
        await Open(terms: Terms(length: 10));
        Assert.Null(await Store.GetAsync("other", B("s1")));
        Assert.NotNull(await Store.GetAsync("p", B("s1")));
        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(await Store.GetAsync("p", B("s1")));
    }

    [SkippableFact]
    public async Task Get_DoesNotCountAsUse_IdleTimeKeepsRunning()
    {
        await Open(terms: Terms(idle: 30));
        Time.Advance(TimeSpan.FromSeconds(20));
        Assert.NotNull(await Store.GetAsync("p", B("s1")));
        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(await Store.GetAsync("p", B("s1")));
    }

    [SkippableFact]
    public async Task Delete_LiveSession_NextOpenStartsFresh()
    {
        await Open();
        await Commit(null, "n1");

        Assert.True(await Store.DeleteAsync("p", B("s1")));

        Assert.Null(await Store.GetAsync("p", B("s1")));
        Assert.Equal(new SessionOpened(SessionOpenStatus.Created), await Open(rules: "country-de"));
    }

    [SkippableFact]
    public async Task Delete_UnknownExpiredOrOtherPackage_ReturnsFalse()
    {
        Assert.False(await Store.DeleteAsync("p", B("nope")));
        await Open(terms: Terms(length: 10));
        Assert.False(await Store.DeleteAsync("other", B("s1")));
        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(await Store.DeleteAsync("p", B("s1")));
    }

    public async Task InitializeAsync() => _store = await CreateStoreAsync(Time);

    public async Task DisposeAsync() => await DisposeStoreAsync();
}
