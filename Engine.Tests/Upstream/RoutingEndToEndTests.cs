using System.Text.Json;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Tests.Forwarding;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Tests.Upstream;

/// <summary>
/// Rules → session → node → failover, end to end over loopback: direct nodes (which work),
/// in-process fake upstream nodes switched between working and each way of failing, a real origin.
/// </summary>
public sealed class RoutingEndToEndTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    private static NodeOptions Direct(string id, string country = "us", string? city = null, string? isp = null, string network = "res") =>
        new() { Id = id, Type = NodeType.Direct, Country = country, City = city, Isp = isp, Network = network };

    private static NodeOptions Upstream(string id, FakeNode fake, NodeType type = NodeType.Http, string country = "us", string? city = null, string? isp = null) =>
        new() { Id = id, Type = type, Address = fake.Address, Country = country, City = city, Isp = isp, Network = "res" };

    private FakeNode Fake(bool socks = false)
    {
        var fake = new FakeNode(socks);
        _owned.Add(fake);
        return fake;
    }

    private ProxyFixture Proxy(Action<ProxyFixtureOptions> configure)
    {
        var proxy = new ProxyFixture(o =>
        {
            o.Health = new NodeHealthPolicy(TimeProvider.System, 100, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), 3, TimeSpan.FromMinutes(10));
            configure(o);
        });
        _owned.Add(proxy);
        return proxy;
    }

    private Task<ProxyReply> Get(ProxyFixture proxy, string user, string path = "/small") =>
        ProxyReply.GetAsync(proxy.EndPoint, _origin.Port, user, ProxyFixture.Key, path);

    private Task<ProxyReply> Tunnel(ProxyFixture proxy, string user) =>
        ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, user, ProxyFixture.Key);

    /// <summary>Makes a node look busy so two-choice selection deterministically prefers the others.</summary>
    private static void Busy(ProxyFixture proxy, string id, int load = 1000)
    {
        Node node = proxy.Routing.Pool.Find(id)!;
        for (int i = 0; i < load; i++)
        {
            node.Enter();
        }
    }

    [Fact]
    public async Task Session_SameId_SameNode_ForTunnelsAndPlainRequests()
    {
        ProxyFixture proxy = Proxy(o => o.Nodes = [Direct("a"), Direct("b"), Direct("c"), Direct("d")]);
        ProxyReply first = await Get(proxy, "country-us-session-job42");
        Assert.Equal(200, first.Status);
        Assert.NotNull(first.Node);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(first.Node, (await Get(proxy, "country-us-session-job42")).Node);
            ProxyReply tunnel = await Tunnel(proxy, "country-us-session-job42");
            Assert.Equal(200, tunnel.Status);
            Assert.Contains("Hello, world!", tunnel.Body, StringComparison.Ordinal);
            Assert.Equal(first.Node, tunnel.Node);
        }
    }

    [Fact]
    public async Task NoSession_SpreadsOverMatchingNodes_AndHonoursFilters()
    {
        ProxyFixture proxy = Proxy(o => o.Nodes = [Direct("us1"), Direct("us2"), Direct("us3"), Direct("de1", "de", "berlin")]);
        var seen = new HashSet<string>();
        for (int i = 0; i < 30; i++)
        {
            ProxyReply reply = await Get(proxy, "country-us");
            Assert.Equal(200, reply.Status);
            seen.Add(reply.Node!);
        }

        Assert.True(seen.Count >= 2, string.Join(",", seen));
        Assert.DoesNotContain("de1", seen);
        Assert.Equal("de1", (await Tunnel(proxy, "country-de-city-berlin")).Node);
    }

    [Fact]
    public async Task Session_DifferentRules_Is409_SessionParamsMismatch()
    {
        ProxyFixture proxy = Proxy(o => o.Nodes = [Direct("a"), Direct("b", "de")]);
        Assert.Equal(200, (await Get(proxy, "country-us-session-s1")).Status);
        ProxyReply mismatch = await Get(proxy, "country-de-session-s1");
        Assert.Equal(409, mismatch.Status);
        Assert.Equal("SESSION_PARAMS_MISMATCH", mismatch.Error);
    }

    [Fact]
    public async Task Session_RuleOrderAndSpelledOutDefaults_DoNotMatter()
    {
        ProxyFixture proxy = Proxy(o => o.Nodes = [Direct("a"), Direct("b"), Direct("c", city: "austin")]);
        string node = (await Get(proxy, "country-us-session-o1-sessionlength-600")).Node!;
        Assert.Equal(node, (await Tunnel(proxy, "session-o1-country-us")).Node);
        Assert.Equal(node, (await Get(proxy, "sessionid-o1-onerror-replace-country-us")).Node);
        Assert.Equal("SESSION_PARAMS_MISMATCH", (await Get(proxy, "session-o1-country-us-city-austin")).Error);
    }

    [Theory]
    [InlineData("city-los-angeles", 400, "ERR_UNKNOWN_PARAM", "angeles")]
    [InlineData("country-US", 400, "ERR_INVALID_VALUE", "country")]
    [InlineData("country-us-country-de", 400, "ERR_DUPLICATE_PARAM", "country")]
    [InlineData("country-us-bind-node", 400, "ERR_INVALID_COMBINATION", "bind")]
    [InlineData("country-us-network-mob", 400, "ERR_PARAM_NOT_ALLOWED", "network")]
    public async Task RuleErrors_AreCatalogErrorsNamingTheParam(string user, int status, string code, string param)
    {
        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Direct("a")];
            o.Packages.Clear();
            o.Packages.Add(new Engine.Auth.Package("demo", ProxyFixture.Key, rules: Engine.Rules.RulePolicy.Create(null, ["res", "dc"]), allowedNetworks: ["res", "dc"]));
        });
        ProxyReply reply = await Tunnel(proxy, user);
        Assert.Equal(status, reply.Status);
        Assert.Equal(code, reply.Error);
        using JsonDocument body = JsonDocument.Parse(reply.Body);
        Assert.Equal(param, body.RootElement.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(reply.Header("X-Proxy-Detail")));
    }

    [Fact]
    public async Task EmptyUsername_UsesDefaultRules_OrIsMissingParams()
    {
        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Direct("a", "de")];
            o.Packages.Clear();
            o.Packages.Add(new Engine.Auth.Package("demo", ProxyFixture.Key, defaultRules: "country-de"));
            o.Packages.Add(new Engine.Auth.Package("bare", "bare-key"));
        });
        Assert.Equal("a", (await Tunnel(proxy, "")).Node);
        ProxyReply missing = await ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "", "bare-key");
        Assert.Equal("ERR_MISSING_PARAMS", missing.Error);
    }

    [Fact]
    public async Task AllowedNetworks_KeepNetworkAnyToThePackagesNetworks()
    {
        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Direct("mobile", network: "mob"), Direct("resi", network: "res")];
            o.Packages.Clear();
            o.Packages.Add(new Engine.Auth.Package("demo", ProxyFixture.Key, rules: Engine.Rules.RulePolicy.Create(null, ["res"]), allowedNetworks: ["res"]));
        });
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("resi", (await Tunnel(proxy, "country-us-network-any")).Node);
        }
    }

    [Fact]
    public async Task NodeNotFound_NamesExactlyTheUnmatchedFilters()
    {
        ProxyFixture proxy = Proxy(o => o.Nodes = [Direct("a", "us", "new_york"), Direct("b", "de", "berlin")]);
        ProxyReply reply = await Get(proxy, "country-us-city-los_angeles");
        Assert.Equal(502, reply.Status);
        Assert.Equal("NODE_NOT_FOUND", reply.Error);
        Assert.Equal("No nodes matching city=los_angeles", reply.Header("X-Proxy-Detail"));
        using JsonDocument body = JsonDocument.Parse(reply.Body);
        Assert.Equal(["city=los_angeles"], body.RootElement.GetProperty("filters").EnumerateArray().Select(e => e.GetString()!));

        ProxyReply combination = await Tunnel(proxy, "country-us-city-berlin");
        Assert.Equal("NODE_NOT_FOUND", combination.Error);
        Assert.Equal("No nodes matching country=us, city=berlin", combination.Header("X-Proxy-Detail"));
    }

    [Fact]
    public async Task NoProxy_WhenEveryNodeIsOut()
    {
        FakeNode broken = Fake();
        broken.Mode = FakeNodeMode.Reset;
        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Upstream("x", broken)];
            o.Health = new NodeHealthPolicy(TimeProvider.System, 1, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5), 3, TimeSpan.FromMinutes(10));
        });
        ProxyReply first = await Tunnel(proxy, "country-us");
        Assert.Equal("NODE_UNAVAILABLE", first.Error);   // tried, failed, nothing to replace it
        ProxyReply second = await Tunnel(proxy, "country-us");
        Assert.Equal(557, second.Status);
        Assert.Equal("NO_PROXY", second.Error);
    }

    [Theory]
    [InlineData(nameof(FakeNodeMode.Reset))]
    [InlineData(nameof(FakeNodeMode.AuthRequired))]
    [InlineData(nameof(FakeNodeMode.Garbage))]
    public async Task Failover_NodeFailure_IsReplacedTransparently_AndReported(string mode)
    {
        FakeNode bad = Fake();
        bad.Mode = Enum.Parse<FakeNodeMode>(mode);
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("bad", bad), Direct("good")]);
        Busy(proxy, "good");

        ProxyReply tunnel = await Tunnel(proxy, "country-us");
        Assert.True(tunnel.Status == 200, tunnel.ToString() + tunnel.Header("X-Proxy-Detail") + tunnel.Error);
        Assert.Equal("good", tunnel.Node);
        Assert.Equal("2", tunnel.Header("X-Proxy-Attempts"));
        Assert.Contains("Hello, world!", tunnel.Body, StringComparison.Ordinal);

        ProxyReply get = await Get(proxy, "country-us");
        Assert.Equal(200, get.Status);
        Assert.Equal("good", get.Node);
        Assert.Equal("2", get.Header("X-Proxy-Attempts"));
        Assert.Equal(2, bad.Connections);

        string[] log = await proxy.LogLinesAsync(2);
        Assert.All(log, line => Assert.Contains("attempts=2", line, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failover_IsBoundedByMaxAttempts_ThenNodeUnavailable()
    {
        FakeNode[] bad = [Fake(), Fake(), Fake()];
        foreach (FakeNode node in bad)
        {
            node.Mode = FakeNodeMode.Reset;
        }

        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Upstream("b0", bad[0]), Upstream("b1", bad[1]), Upstream("b2", bad[2]), Direct("good")];
            o.MaxAttempts = 2;
        });
        Busy(proxy, "good");
        ProxyReply reply = await Tunnel(proxy, "country-us");
        Assert.Equal(502, reply.Status);
        Assert.Equal("NODE_UNAVAILABLE", reply.Error);
        Assert.Equal(2, bad.Sum(n => n.Connections));
    }

    [Fact]
    public async Task OnErrorFail_AnswersNodeUnavailable_WithoutReplacing()
    {
        FakeNode bad = Fake();
        bad.Mode = FakeNodeMode.AuthRequired;
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("bad", bad), Direct("good")]);
        Busy(proxy, "good");
        ProxyReply reply = await Tunnel(proxy, "country-us-onerror-fail");
        Assert.Equal(502, reply.Status);
        Assert.Equal("NODE_UNAVAILABLE", reply.Error);
        Assert.Contains("credentials", reply.Header("X-Proxy-Detail"), StringComparison.Ordinal);
        Assert.Equal(1, bad.Connections);
    }

    [Fact]
    public async Task OnErrorRetry_RetriesTheSameNodeNTimes_ThenReplaces()
    {
        FakeNode bad = Fake();
        bad.Mode = FakeNodeMode.Reset;
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("bad", bad), Direct("good")]);
        Busy(proxy, "good");
        ProxyReply reply = await Get(proxy, "country-us-session-r1-onerror-retry_2");
        Assert.Equal(200, reply.Status);
        Assert.Equal("good", reply.Node);
        Assert.Equal("4", reply.Header("X-Proxy-Attempts"));
        Assert.Equal(3, bad.Connections);
        Assert.Equal("good", (await Get(proxy, "country-us-session-r1-onerror-retry_2")).Node);
    }

    [Fact]
    public async Task OnErrorRetry_ReplacementFailingToo_IsRetriesExhausted_WithAttempts()
    {
        FakeNode first = Fake();
        FakeNode second = Fake();
        first.Mode = second.Mode = FakeNodeMode.Reset;
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("b1", first), Upstream("b2", second)]);
        ProxyReply reply = await Tunnel(proxy, "country-us-onerror-retry_1");
        Assert.Equal(502, reply.Status);
        Assert.Equal("RETRIES_EXHAUSTED", reply.Error);
        using JsonDocument body = JsonDocument.Parse(reply.Body);
        Assert.Equal(3, body.RootElement.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task BindNode_NodeFails_Is503BoundNodeFailed_AndNeverMoves()
    {
        FakeNode flaky = Fake();
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("flaky", flaky), Direct("good")]);
        Busy(proxy, "good");
        ProxyReply bound = await Tunnel(proxy, "country-us-session-b1-bind-node");
        Assert.Equal(200, bound.Status);
        Assert.Equal("flaky", bound.Node);

        flaky.Mode = FakeNodeMode.Reset;
        ProxyReply failed = await Tunnel(proxy, "country-us-session-b1-bind-node");
        Assert.Equal(503, failed.Status);
        Assert.Equal("BOUND_NODE_FAILED", failed.Error);

        flaky.Mode = FakeNodeMode.Ok;
        Assert.Equal("flaky", (await Tunnel(proxy, "country-us-session-b1-bind-node")).Node);
    }

    [Fact]
    public async Task Session_NodeFails_OnErrorReplace_MovesTheSessionToTheReplacement()
    {
        FakeNode flaky = Fake();
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("flaky", flaky), Direct("good")]);
        Busy(proxy, "good");
        Assert.Equal("flaky", (await Get(proxy, "country-us-session-m1")).Node);
        flaky.Mode = FakeNodeMode.Reset;
        ProxyReply moved = await Get(proxy, "country-us-session-m1");
        Assert.Equal(200, moved.Status);
        Assert.Equal("good", moved.Node);
        flaky.Mode = FakeNodeMode.Ok;
        Assert.Equal("good", (await Get(proxy, "country-us-session-m1")).Node);
    }

    [Fact]
    public async Task PreferLookalike_ReplacementKeepsIspAndCity()
    {
        FakeNode flaky = Fake();
        ProxyFixture proxy = Proxy(o => o.Nodes =
        [
            Upstream("flaky", flaky, city: "boston", isp: "comcast"),
            Direct("twin", city: "boston", isp: "comcast"),
            Direct("other", city: "austin", isp: "verizon"),
        ]);
        // Bind both sessions to flaky while the others are out.
        var ejectAtOnce = new NodeHealthPolicy(TimeProvider.System, 1, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5), 3, TimeSpan.FromMinutes(5));
        Node twin = proxy.Routing.Pool.Find("twin")!;
        Node other = proxy.Routing.Pool.Find("other")!;
        twin.RecordFailure(ejectAtOnce, TimeProvider.System.GetTimestamp());
        other.RecordFailure(ejectAtOnce, TimeProvider.System.GetTimestamp());
        Assert.Equal("flaky", (await Tunnel(proxy, "country-us-session-l1-prefer-lookalike")).Node);
        Assert.Equal("flaky", (await Tunnel(proxy, "country-us-session-l2")).Node);
        twin.RecordSuccess();
        other.RecordSuccess();
        flaky.Mode = FakeNodeMode.Reset;

        // other is the lighter one, so only the preference explains twin.
        Busy(proxy, "twin", 1000);
        Assert.Equal("twin", (await Tunnel(proxy, "country-us-session-l1-prefer-lookalike")).Node);
        Assert.Equal("other", (await Tunnel(proxy, "country-us-session-l2")).Node);
    }

    [Fact]
    public async Task RotateRequests_MovesToAnotherNodeEveryNRequests()
    {
        ProxyFixture proxy = Proxy(o => o.Nodes = [Direct("a"), Direct("b")]);
        string user = "country-us-session-rr-rotate-requests_2";
        string first = (await Get(proxy, user)).Node!;
        Assert.Equal(first, (await Tunnel(proxy, user)).Node);
        string second = (await Get(proxy, user)).Node!;
        Assert.NotEqual(first, second);
        Assert.Equal(second, (await Get(proxy, user)).Node);
        Assert.Equal(first, (await Get(proxy, user)).Node);
    }

    [Fact]
    public async Task RotateTimed_MovesWhenTheClockSaysSo()
    {
        var clock = new ManualTimeProvider();
        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Direct("a"), Direct("b")];
            o.Sessions = new MemorySessionStore(clock);
        });
        string user = "country-us-session-rt-rotate-timed_60";
        string first = (await Get(proxy, user)).Node!;
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(first, (await Get(proxy, user)).Node);
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.NotEqual(first, (await Get(proxy, user)).Node);
    }

    [Fact]
    public async Task TargetFailureThroughANode_IsTheTargetsFault_AndBansThePairAfterRepeats()
    {
        FakeNode refusing = Fake();
        refusing.Mode = FakeNodeMode.TargetRefused;
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("up", refusing), Direct("good")]);
        Busy(proxy, "good");
        for (int i = 0; i < 3; i++)
        {
            ProxyReply reply = await Tunnel(proxy, "country-us");
            Assert.Equal(502, reply.Status);
            Assert.Equal("TARGET_CONNECT_FAILED", reply.Error);
            Assert.Null(reply.Header("X-Proxy-Attempts"));
        }

        // Banned for this site only: the next tunnel to it goes through the other node.
        ProxyReply after = await Tunnel(proxy, "country-us");
        Assert.Equal(200, after.Status);
        Assert.Equal("good", after.Node);
        Assert.Equal(3, refusing.Connections);
    }

    [Fact]
    public async Task HangingNode_IsGatewayTimeout()
    {
        FakeNode hanging = Fake();
        hanging.Mode = FakeNodeMode.Hang;
        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Upstream("slow", hanging)];
            o.Limits = new Engine.Connection.ConnectionLimits { ConnectTimeout = TimeSpan.FromMilliseconds(300) };
        });
        ProxyReply reply = await Tunnel(proxy, "country-us");
        Assert.Equal(504, reply.Status);
        Assert.Equal("GATEWAY_TIMEOUT", reply.Error);
    }

    [Fact]
    public async Task Socks5Node_CarriesTunnelsAndPlainRequests_AndCannotCarryIsBuildConnectOrBuildRequest()
    {
        FakeNode socks = Fake(socks: true);
        ProxyFixture proxy = Proxy(o =>
        {
            o.Nodes = [Upstream("s5", socks, NodeType.Socks5)];
            o.PoolUpstream = false;   // every request opens its own path through the node
        });
        ProxyReply tunnel = await Tunnel(proxy, "country-us");
        Assert.Equal(200, tunnel.Status);
        Assert.Contains("Hello, world!", tunnel.Body, StringComparison.Ordinal);
        ProxyReply get = await Get(proxy, "country-us");
        Assert.Equal(200, get.Status);
        Assert.Equal("s5", get.Node);
        Assert.Equal("Hello, world!", get.Body);

        socks.Mode = FakeNodeMode.CannotCarry;
        ProxyReply refused = await Tunnel(proxy, "country-us");
        Assert.Equal(557, refused.Status);
        Assert.Equal("BUILD_CONNECT", refused.Error);
        ProxyReply plain = await Get(proxy, "country-us");
        Assert.Equal(557, plain.Status);
        Assert.Equal("BUILD_REQUEST", plain.Error);
    }

    [Fact]
    public async Task HttpNode_PlainRequest_GoesInAbsoluteFormWithTheNodesCredentials()
    {
        FakeNode node = Fake();
        ProxyFixture proxy = Proxy(o => o.Nodes = [new NodeOptions { Id = "up", Type = NodeType.Http, Address = node.Address, Username = "u1", Password = "p1", Country = "us" }]);
        ProxyReply reply = await Get(proxy, "country-us", "/small?q=1");
        Assert.Equal(200, reply.Status);
        Assert.Equal("up", reply.Node);
        Assert.StartsWith($"GET http://127.0.0.1:{_origin.Port}/small?q=1 HTTP/1.1\r\n", node.LastHead, StringComparison.Ordinal);
        Assert.Contains("Proxy-Authorization: Basic dTE6cDE=\r\n", node.LastHead, StringComparison.Ordinal);
        Assert.DoesNotContain(ProxyFixture.Key, node.LastHead, StringComparison.Ordinal);
    }
}
