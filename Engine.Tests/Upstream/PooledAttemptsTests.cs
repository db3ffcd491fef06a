using System.Text;
using Engine.Http;
using Engine.Rules;
using Engine.Sessions;
using Engine.Transport;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

public sealed class PooledAttemptsTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly SessionNodeStateTests.PerNodeConnector _connector = new();
    private readonly List<SocketPair> _pairs = [];
    private readonly UpstreamConnectionPool _idle;

    public PooledAttemptsTests() => _idle = new UpstreamConnectionPool(time: _time);

    public void Dispose()
    {
        _idle.Dispose();
        foreach (SocketPair pair in _pairs)
        {
            pair.Dispose();
        }
    }

    // configuration.md, Routing:MaxAttempts: "Nodes one request may try before 502 NODE_UNAVAILABLE".
    // A plain-HTTP request through http nodes whose kept-alive connections fail on the request itself
    // (the node's 407, garbage) is replaced node after node; a rented connection counts as an attempt
    // (it once did not, and the request went through all six nodes instead of MaxAttempts, 3).
    [Fact]
    public async Task NodesFailingOnPooledConnections_AreCountedAgainstMaxAttempts()
    {
        NodeOptions[] options = Enumerable.Range(1, 6)
            .Select(i => new NodeOptions { Id = "h" + i, Type = NodeType.Http, Address = "10.0.0." + i + ":3128", Country = "us" }).ToArray();
        var pool = new NodePool(options, NodeHealthPolicy.Default(_time));
        var routing = new NodeRouting(pool, _connector, new MemorySessionStore(_time), maxAttempts: 3, _time);
        var head = new RequestHead();
        foreach (Node node in pool.Nodes)
        {
            SocketPair pair = await SocketPair.CreateAsync();
            _pairs.Add(pair);
            Assert.True(_idle.Return(node.Index, head.TargetHost, 80, TcpSocket.Adopt(pair.A)));
        }

        var router = new Router();
        byte[] rules = Encoding.ASCII.GetBytes("country-us");
        Assert.True(RuleParser.TryParse(rules, RulePolicy.AllowAll, out RuleSet parsed, out _));
        router.Begin(routing, "pkg", 0, parsed, rules, _time, null, default);
        var target = new RouteTarget("example.com", 80, head, ConnectPurpose.Http, _idle, CanResendWhole: true);

        var tried = new List<string>();
        RouteResult route = await router.OpenAsync(target);
        while (route.Status == RouteStatus.Connected)
        {
            tried.Add(router.Node!.Id);
            // The exchange: the http node answers its own 407 on the request (ExchangeOutcome.NodeFailed).
            route = await router.ReplaceAsync(target, new ConnectResult(ConnectStatus.NodeAuthFailed));
        }

        Assert.True(tried.Count <= 3, $"MaxAttempts 3, but the request went through {tried.Count} nodes: {string.Join(",", tried)}; final {route.Status}, Attempts={router.Attempts}");
    }
}
