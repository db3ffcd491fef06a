using System.Text;
using Engine.Tests.Forwarding;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Tests.Sessions;

public class MemorySessionStoreTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly MemorySessionStore _store;

    public MemorySessionStoreTests() => _store = new MemorySessionStore(_time);

    private static ReadOnlyMemory<byte> B(string s) => Encoding.ASCII.GetBytes(s);

    private static SessionTerms Terms(int length = 600, int idle = 0, int rotateSeconds = 0, int rotateRequests = 0) => new(length, idle, rotateSeconds, rotateRequests);

    private SessionOpened Open(string id = "s1", string rules = "country-us", SessionTerms? terms = null, string package = "p") =>
        _store.OpenAsync(package, B(id), B(rules), terms ?? Terms()).AsTask().GetAwaiter().GetResult();

    private void Commit(string? expected, string node, string id = "s1", string package = "p") =>
        _store.CommitAsync(package, B(id), expected, node).AsTask().GetAwaiter().GetResult();

    [Fact]
    public void Open_NewId_IsCreated_ThenResumedWithItsNode()
    {
        Assert.Equal(new SessionOpened(SessionOpenStatus.Created), Open());
        Commit(null, "n1");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n1"), Open());
    }

    [Fact]
    public void Open_SameIdOtherRules_IsMismatch_OtherPackageIsIndependent()
    {
        Open();
        Assert.Equal(SessionOpenStatus.Mismatch, Open(rules: "country-de").Status);
        Assert.Equal(SessionOpenStatus.Created, Open(rules: "country-de", package: "other").Status);
    }

    [Fact]
    public void Open_AfterSessionLength_StartsFresh_WithNewRules()
    {
        Open(terms: Terms(length: 60));
        Commit(null, "n1");
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("n1", Open(terms: Terms(length: 60)).NodeId);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(new SessionOpened(SessionOpenStatus.Created), Open(rules: "country-de", terms: Terms(length: 60)));
    }

    [Fact]
    public void Open_AfterIdleTtl_StartsFresh_EachUseExtendsIt()
    {
        Open(terms: Terms(idle: 30));
        Commit(null, "n1");
        for (int i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(29));
            Assert.Equal("n1", Open(terms: Terms(idle: 30)).NodeId);
        }

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(SessionOpenStatus.Created, Open(terms: Terms(idle: 30)).Status);
    }

    [Fact]
    public void Open_RotateTimed_AsksForANewNodeNamingTheOldOne()
    {
        SessionTerms terms = Terms(rotateSeconds: 60);
        Open(terms: terms);
        Commit(null, "n1");
        _time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, null, "n1"), Open(terms: terms));
        Commit("n1", "n2");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n2"), Open(terms: terms));
    }

    [Fact]
    public void Open_RotateRequests_CountsCommittedRequests()
    {
        SessionTerms terms = Terms(rotateRequests: 3);
        Open(terms: terms);
        Commit(null, "n1");
        Assert.Equal("n1", Open(terms: terms).NodeId);
        Commit("n1", "n1");
        Assert.Equal("n1", Open(terms: terms).NodeId);
        Commit("n1", "n1");
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, null, "n1"), Open(terms: terms));
        Commit("n1", "n2");
        Assert.Equal("n2", Open(terms: terms).NodeId);
    }

    [Fact]
    public void Commit_WhenAnotherRequestReboundFirst_KeepsThatBinding()
    {
        Open();
        Commit(null, "n1");
        Commit(null, "n2");   // lost the race: it expected no node, but n1 is bound
        Assert.Equal("n1", Open().NodeId);
        Commit("n1", "n3");
        Assert.Equal("n3", Open().NodeId);
    }

    [Fact]
    public void Sweep_DropsExpiredSessionsOnly()
    {
        Open("short", terms: Terms(length: 10));
        Open("long", terms: Terms(length: 1000));
        _time.Advance(TimeSpan.FromSeconds(11));
        _store.Sweep();
        Assert.Equal(1, _store.Count);
    }

    [Fact]
    public async Task Open_ExistingSession_DoesNotAllocate()
    {
        ReadOnlyMemory<byte> id = B("job42");
        ReadOnlyMemory<byte> rules = B("country-us");
        await _store.OpenAsync("p", id, rules, Terms());
        await _store.CommitAsync("p", id, null, "n1");
        Assert.Equal(0, MeasureResumes(_store, id, rules));
    }

    // The memory store completes synchronously, so the measured loop stays on this thread.
    private static long MeasureResumes(MemorySessionStore store, ReadOnlyMemory<byte> id, ReadOnlyMemory<byte> rules)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            ValueTask<SessionOpened> open = store.OpenAsync("p", id, rules, Terms());
            if (!open.IsCompletedSuccessfully || open.Result.NodeId != "n1")
            {
                return -1;
            }

            ValueTask commit = store.CommitAsync("p", id, "n1", "n1");
            if (!commit.IsCompletedSuccessfully)
            {
                return -1;
            }
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public async Task PackageAtItsCap_EvictsTheLeastRecentlyUsed_WhichThenStartsFresh()
    {
        _store.SetMaxSessions(package => package == "p" ? 3 : 1_000);
        Open("a");
        Commit(null, "n1", id: "a");
        Open("b");
        Open("c");
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("n1", Open("a").NodeId);   // a used again: b is now the least recently used

        Assert.Equal(SessionOpenStatus.Created, Open("d").Status);

        Assert.Equal(3, _store.LiveSessions("p"));
        Assert.Equal(1, _store.Evicted);
        Assert.Null((await _store.GetAsync("p", B("b"))));
        Assert.Equal("n1", Open("a").NodeId);
        Assert.Equal(SessionOpenStatus.Created, Open("b").Status);   // starts fresh, as after its idle time
        Assert.Equal(2, _store.Evicted);                              // c went for it
        Assert.Equal(0, _store.LiveSessions("other"));
    }

    [Fact]
    public void DistinctIds_NeverHoldMoreThanTheCap()
    {
        _store.SetMaxSessions(_ => 1_000);
        // Before the cap: 60,000 distinct ids made 60,000 live sessions.
        for (int i = 0; i < 60_000; i++)
        {
            Open("id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Equal(1_000, _store.LiveSessions("p"));
        Assert.Equal(1_000, _store.Count);
        Assert.Equal(59_000, _store.Evicted);
    }

    [Fact]
    public async Task OpenWithoutCreate_StoresNothing_BindCreatesTheSessionOnItsNode()
    {
        SessionOpened absent = (await _store.OpenAsync("p", B("s1"), B("country-us"), Terms(), create: false));
        Assert.Equal(SessionOpenStatus.Absent, absent.Status);
        Assert.Equal(0, _store.Count);

        Assert.True((await _store.BindAsync("p", B("s1"), B("country-us"), Terms(), null, "n1")));
        Assert.Equal(new SessionOpened(SessionOpenStatus.Resumed, "n1"), (await _store.OpenAsync("p", B("s1"), B("country-us"), Terms(), create: false)));
        Assert.Equal(1, (await _store.GetAsync("p", B("s1")))!.RequestsOnNode);

        // Bind again: a commit (counts the request); other rules meanwhile: refused, the session stands.
        Assert.True((await _store.BindAsync("p", B("s1"), B("country-us"), Terms(), "n1", "n1")));
        Assert.Equal(2, (await _store.GetAsync("p", B("s1")))!.RequestsOnNode);
        Assert.False((await _store.BindAsync("p", B("s1"), B("country-de"), Terms(), null, "n2")));
        Assert.Equal("n1", (await _store.GetAsync("p", B("s1")))!.NodeId);
    }

    [Fact]
    public async Task DeleteAndExpiry_LeaveTheRecencyList_SoTheCapCountsLiveSessionsOnly()
    {
        _store.SetMaxSessions(_ => 2);
        Open("a", terms: Terms(length: 10));
        Open("b");
        Assert.True((await _store.DeleteAsync("p", B("b"))));
        _time.Advance(TimeSpan.FromSeconds(11));
        _store.Sweep();
        Assert.Equal(0, _store.LiveSessions("p"));
        Open("c");
        Open("d");
        Assert.Equal(0, _store.Evicted);
    }
}
