using System.Text;
using Engine.Http;
using Engine.Rules;
using Engine.Sessions;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>
/// A sticky session whose node is drained or weighted 0 sends no new work there (docs/admin.md, docs/configuration.md):
/// its next request moves as its onerror says, as for a removed node. The sessions' connector only records
/// which node it was asked for; nothing leaves the machine.
/// </summary>
public class SessionNodeStateTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly PerNodeConnector _connector = new();
    private readonly MemorySessionStore _sessions;
    private NodeRouting _routing;
    private readonly Router _router = new();
    private readonly RequestHead _head = new();

    public SessionNodeStateTests()
    {
        _sessions = new MemorySessionStore(_time);
        _routing = Routing([D("us1", "us"), D("us2", "us"), D("us3", "us")]);
    }

    private NodeRouting Routing(NodeOptions[] nodes, int maxAttempts = 3) =>
        new(new NodePool(nodes, NodeHealthPolicy.Default(_time)), _connector, _sessions, maxAttempts, _time);

    private static NodeOptions D(string id, string country) => new() { Id = id, Type = NodeType.Direct, Country = country };

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

    // docs/admin.md: "POST /nodes/{id}/drain: No new requests or sessions for the node";
    // docs/configuration.md: drained nodes' "sticky sessions move on their next request as their onerror says".
    [Theory]
    [InlineData("country-us-session-d1-onerror-fail")]
    [InlineData("country-us-session-d2-bind-node")]
    [InlineData("country-us-session-d3-bind-node-onerror-retry_2")]
    public async Task Drain_SessionPinnedToDrainedNode_SendsNoNewWorkThere(string rules)
    {
        RouteResult first = await RouteAsync(rules);
        Assert.Equal(RouteStatus.Connected, first.Status);
        Node bound = _router.Node!;
        bound.AdminState = NodeAdminState.Draining;   // what POST /nodes/{id}/drain does
        _connector.Calls.Clear();

        RouteResult next = await RouteAsync(rules);

        Assert.DoesNotContain(bound.Id, _connector.Calls);
        Assert.NotEqual(RouteStatus.Connected, next.Status);
    }

    // Weight 0 "keeps the node configured but never chosen" (configuration.md).
    [Fact]
    public async Task WeightZero_AfterReload_SessionWithOnErrorFail_IsNotSentThroughIt()
    {
        RouteResult first = await RouteAsync("country-us-session-w1-onerror-fail");
        Assert.Equal(RouteStatus.Connected, first.Status);
        string id = _router.Node!.Id;
        NodeRouting old = _routing;
        _routing = Routing(
            old.Pool.Nodes.Select(n => new NodeOptions { Id = n.Id, Type = NodeType.Direct, Country = "us", Weight = n.Id == id ? 0 : 1 }).ToArray());
        _routing.Pool.CarryOver(old.Pool);
        _connector.Calls.Clear();

        RouteResult next = await RouteAsync("country-us-session-w1-onerror-fail");

        Assert.DoesNotContain(id, _connector.Calls);
        Assert.NotEqual(RouteStatus.Connected, next.Status);
    }

    internal sealed class PerNodeConnector : INodeConnector
    {
        public List<string> Calls { get; } = [];

        public Dictionary<string, Queue<ConnectStatus>> Script { get; } = [];

        public ConnectStatus Default { get; set; } = ConnectStatus.Connected;

        public ValueTask<ConnectResult> ConnectAsync(Node node, string host, int port, ConnectPurpose purpose, CancellationToken shutdown, UpstreamCredentials credentials = default)
        {
            Calls.Add(node.Id);
            ConnectStatus status = Script.TryGetValue(node.Id, out Queue<ConnectStatus>? q) && q.Count > 0 ? q.Dequeue() : Default;
            return ValueTask.FromResult(new ConnectResult(status));
        }
    }
}
