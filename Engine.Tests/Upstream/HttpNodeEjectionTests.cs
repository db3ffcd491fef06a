using System.Text;
using Engine.Http;
using Engine.Rules;
using Engine.Sessions;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

public class HttpNodeEjectionTests
{
    private readonly ManualTimeProvider _time = new();

    // configuration.md: the node's own failures ("its 407", "not its protocol") count towards ejection;
    // FailuresToEject (3) consecutive ones take it out. For plain HTTP through an http node the "connect"
    // is only the TCP connect to the proxy, so the node's success is its answer to the request (recorded
    // once a response head came through it); counted at the connect, it reset the count before each
    // request's own failure and a proxy answering 407 / garbage to every plain-HTTP request was never ejected.
    [Theory]
    [InlineData((int)ConnectStatus.NodeAuthFailed)]
    [InlineData((int)ConnectStatus.NodeProtocolError)]
    public async Task HttpNode_FailingEveryPlainHttpRequest_IsEjectedAfterFailuresToEject(int failureCode)
    {
        var failure = (ConnectStatus)failureCode;
        var connector = new SessionNodeStateTests.PerNodeConnector();
        var pool = new NodePool([new NodeOptions { Id = "h1", Type = NodeType.Http, Address = "10.0.0.1:3128", Country = "us" }],
            NodeHealthPolicy.Default(_time));
        var routing = new NodeRouting(pool, connector, new MemorySessionStore(_time), maxAttempts: 3, _time);
        var head = new RequestHead();
        var target = new RouteTarget("example.com", 80, head, ConnectPurpose.Http, Pool: null, CanResendWhole: false);
        byte[] rules = Encoding.ASCII.GetBytes("country-us");
        Assert.True(RuleParser.TryParse(rules, RulePolicy.AllowAll, out RuleSet parsed, out _));
        var router = new Router();
        Node node = pool.Find("h1")!;

        for (int request = 1; request <= 5 && node.IsAvailable(_time.GetTimestamp()); request++)
        {
            router.Release();
            router.Reset();
            router.Begin(routing, "pkg", 0, parsed, rules, _time, null, default);
            RouteResult route = await router.OpenAsync(target);
            Assert.Equal(RouteStatus.Connected, route.Status);
            // The exchange: the proxy answered its own 407 / garbage to the POST (cannot be sent again).
            router.FailWithoutReplacement(new ConnectResult(failure));
        }

        Assert.True(!node.IsAvailable(_time.GetTimestamp()),
            $"5 requests, each failed by the node itself: ConsecutiveFailures={node.ConsecutiveFailures}, Ejections={node.Ejections}, still available");
    }
}
