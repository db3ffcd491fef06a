using System.Text;
using Engine.Http;
using Engine.Rules;
using Engine.Sessions;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>
/// The onerror / bind-node / session matrix of <see cref="Router"/> without a socket: a scripted
/// connector says, per node, whether the connect works, the node fails or the target fails.
/// </summary>
public class RouterTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly ScriptedConnector _connector = new();
    private readonly CountingSessions _sessions;
    private readonly NodeRouting _routing;
    private readonly Router _router = new();
    private readonly RequestHead _head = new();

    public RouterTests()
    {
        _sessions = new CountingSessions(new MemorySessionStore(_time));
        NodePool pool = new(
            [N("us1", "us"), N("us2", "us"), N("us3", "us"), N("de1", "de")],
            NodeHealthPolicy.Default(_time));
        _routing = new NodeRouting(pool, _connector, _sessions, maxAttempts: 3, _time);
    }

    private static NodeOptions N(string id, string country) => new() { Id = id, Type = NodeType.Direct, Country = country };

    private RouteTarget Target => new("example.com", 80, _head, ConnectPurpose.Tunnel);

    private async Task<RouteResult> RouteAsync(string rules)
    {
        _router.Release();
        _router.Reset();
        byte[] bytes = Encoding.ASCII.GetBytes(rules);
        Assert.True(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out RuleSet parsed, out RuleError error), error.Code.ToString());
        _router.Begin(_routing, "pkg", 0, parsed, bytes, _time, null, default);
        return await _router.OpenAsync(Target);
    }

    [Fact]
    public async Task NodeFailure_WithoutSession_IsReplacedByAnotherMatchingNode()
    {
        _connector.FailFirstConnect(ConnectStatus.NodeUnavailable);
        RouteResult route = await RouteAsync("country-us");

        Assert.Equal(RouteStatus.Connected, route.Status);
        Assert.Equal(2, _router.Attempts);
        Assert.Equal(2, _connector.Calls.Distinct().Count());
        Assert.StartsWith("us", _router.Node!.Id, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeFailure_OnErrorFail_RefusesWithoutReplacement()
    {
        _connector.FailFirstConnect(ConnectStatus.NodeUnavailable);
        RouteResult route = await RouteAsync("country-us-onerror-fail");

        Assert.Equal(RouteStatus.NodeFailed, route.Status);
        Assert.Equal(ConnectStatus.NodeUnavailable, route.Connect.Status);
        Assert.Equal(1, _router.Attempts);
    }

    [Fact]
    public async Task NodeFailure_EveryNodeFails_StopsAtMaxAttempts()
    {
        _connector.AlwaysFail(ConnectStatus.NodeUnavailable);
        RouteResult route = await RouteAsync("country-us");

        Assert.Equal(RouteStatus.NodeFailed, route.Status);
        Assert.Equal(3, _router.Attempts);
        Assert.Equal(3, _connector.Calls.Distinct().Count());
    }

    [Fact]
    public async Task TargetFailure_IsNotANodeFailure_NoReplacement()
    {
        _connector.AlwaysFail(ConnectStatus.Refused);
        RouteResult route = await RouteAsync("country-us");

        Assert.Equal(RouteStatus.TargetFailed, route.Status);
        Assert.Equal(ConnectStatus.Refused, route.Connect.Status);
        Assert.Equal(1, _router.Attempts);
    }

    [Fact]
    public async Task Session_KeepsItsNode_AcrossRequests()
    {
        RouteResult first = await RouteAsync("country-us-session-s1");
        string node = _router.Node!.Id;
        for (int i = 0; i < 5; i++)
        {
            RouteResult next = await RouteAsync("country-us-session-s1");
            Assert.Equal(RouteStatus.Connected, next.Status);
            Assert.Equal(node, _router.Node!.Id);
        }

        Assert.Equal(RouteStatus.Connected, first.Status);
    }

    [Fact]
    public async Task Session_WithOtherRules_IsAMismatch()
    {
        await RouteAsync("country-us-session-s1");
        RouteResult other = await RouteAsync("country-de-session-s1");

        Assert.Equal(RouteStatus.SessionMismatch, other.Status);
    }

    [Fact]
    public async Task BindNode_NodeFails_RefusesWithBoundNodeFailed()
    {
        await RouteAsync("country-us-session-s2-bind-node");
        _connector.AlwaysFail(ConnectStatus.NodeUnavailable);
        RouteResult route = await RouteAsync("country-us-session-s2-bind-node");

        Assert.Equal(RouteStatus.BoundNodeFailed, route.Status);
    }

    [Fact]
    public async Task OnErrorRetry_RetriesTheSameNode_ThenOneReplacement_ThenRetriesExhausted()
    {
        await RouteAsync("country-us-session-s3-onerror-retry_2");
        string bound = _router.Node!.Id;
        _connector.AlwaysFail(ConnectStatus.NodeUnavailable);
        _connector.Calls.Clear();
        RouteResult route = await RouteAsync("country-us-session-s3-onerror-retry_2");

        Assert.Equal(RouteStatus.RetriesExhausted, route.Status);
        // The bound node three times (the try and two retries), then one replacement.
        Assert.Equal([bound, bound, bound], _connector.Calls.Take(3));
        Assert.Equal(4, _connector.Calls.Count);
        Assert.NotEqual(bound, _connector.Calls[3]);
    }

    [Fact]
    public async Task NoMatchingNode_NamesTheUnmatchedFilter()
    {
        RouteResult route = await RouteAsync("country-fr");

        Assert.Equal(RouteStatus.NoMatch, route.Status);
        Span<byte> filters = stackalloc byte[128];
        int length = _router.WriteUnmatchedFilters(filters);
        Assert.Equal("country=fr", Encoding.ASCII.GetString(filters[..length]));
        Assert.Null(_router.Node);
    }

    [Fact]
    public async Task Replace_AfterTheNodeFailedOnTheRequest_MovesOnWithoutReopeningTheSession()
    {
        RouteResult first = await RouteAsync("country-us-session-s4");
        string failed = _router.Node!.Id;
        Assert.Equal(1, _sessions.Opens);

        RouteResult replaced = await _router.ReplaceAsync(Target, new ConnectResult(ConnectStatus.NodeUnavailable));

        Assert.Equal(RouteStatus.Connected, first.Status);
        Assert.Equal(RouteStatus.Connected, replaced.Status);
        Assert.NotEqual(failed, _router.Node!.Id);
        Assert.Equal(1, _sessions.Opens);
        Assert.Equal(2, _router.Attempts);

        // The session follows the replacement.
        await RouteAsync("country-us-session-s4");
        Assert.NotEqual(failed, _router.Node!.Id);
    }

    [Theory]
    [InlineData("country-fr-session-unbound", false)]   // no matching node
    [InlineData("country-us-session-unbound", true)]    // the target refused: no node bound
    public async Task Session_IsCreatedOnlyOnceANodeIsBound(string rules, bool targetRefuses)
    {
        if (targetRefuses)
        {
            _connector.AlwaysFail(ConnectStatus.Refused);
        }

        RouteResult route = await RouteAsync(rules);

        Assert.NotEqual(RouteStatus.Connected, route.Status);
        Assert.Null(await _sessions.GetAsync("pkg", "unbound"u8.ToArray()));
    }

    [Fact]
    public async Task Session_BoundOnSuccess_IsLive()
    {
        await RouteAsync("country-us-session-bound");

        SessionInfo? session = await _sessions.GetAsync("pkg", "bound"u8.ToArray());
        Assert.NotNull(session);
        Assert.Equal(_router.Node!.Id, session.NodeId);
    }

    [Fact]
    public async Task FailWithoutReplacement_RefusesAsTheNodesFailure()
    {
        await RouteAsync("country-us");
        RouteResult route = _router.FailWithoutReplacement(new ConnectResult(ConnectStatus.NodeProtocolError));

        Assert.Equal(RouteStatus.NodeFailed, route.Status);
        Assert.Equal(ConnectStatus.NodeProtocolError, route.Connect.Status);
    }

    private sealed class ScriptedConnector : INodeConnector
    {
        private ConnectStatus _always = ConnectStatus.Connected;
        private ConnectStatus _first = ConnectStatus.Connected;

        public List<string> Calls { get; } = [];

        public void AlwaysFail(ConnectStatus status) => _always = status;

        public void FailFirstConnect(ConnectStatus status) => _first = status;

        public ValueTask<ConnectResult> ConnectAsync(Node node, string host, int port, ConnectPurpose purpose, CancellationToken shutdown, UpstreamCredentials credentials = default)
        {
            bool first = Calls.Count == 0;
            Calls.Add(node.Id);
            ConnectStatus status = _always != ConnectStatus.Connected ? _always
                : first ? _first
                : ConnectStatus.Connected;
            return ValueTask.FromResult(new ConnectResult(status));
        }
    }

    private sealed class CountingSessions(ISessionStore inner) : ISessionStore
    {
        public int Opens { get; private set; }

        public long Evicted => inner.Evicted;

        public int Count => inner.Count;

        public ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create = true)
        {
            Opens++;
            return inner.OpenAsync(packageId, sessionId, fingerprint, terms, create);
        }

        public ValueTask<bool> BindAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId) =>
            inner.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId);

        public void SetMaxSessions(Func<string, int> maxSessions) => inner.SetMaxSessions(maxSessions);

        public int MaxSessionsOf(string packageId) => inner.MaxSessionsOf(packageId);

        public int? LiveSessions(string packageId) => inner.LiveSessions(packageId);

        public ValueTask CommitAsync(string packageId, ReadOnlyMemory<byte> sessionId, string? expectedNodeId, string nodeId) =>
            inner.CommitAsync(packageId, sessionId, expectedNodeId, nodeId);

        public ValueTask<SessionInfo?> GetAsync(string packageId, ReadOnlyMemory<byte> sessionId) => inner.GetAsync(packageId, sessionId);

        public ValueTask<bool> DeleteAsync(string packageId, ReadOnlyMemory<byte> sessionId) => inner.DeleteAsync(packageId, sessionId);

        public void Sweep() => inner.Sweep();
    }
}
