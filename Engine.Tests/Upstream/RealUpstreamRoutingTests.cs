using System.Net;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>
/// The engine routing through real upstream proxies on loopback: tinyproxy and squid as http
/// nodes, microsocks and dante as socks5 nodes. Tunnels and plain requests through each,
/// credentials, stickiness across them, and the catalog codes their real refusals produce.
/// </summary>
public sealed class RealUpstreamRoutingTests : IClassFixture<RealUpstreamsFixture>, IAsyncLifetime
{
    private readonly RealUpstreamsFixture _upstreams;
    private readonly TestOrigin _origin = new();
    private readonly List<ProxyFixture> _proxies = [];

    public RealUpstreamRoutingTests(RealUpstreamsFixture upstreams) => _upstreams = upstreams;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ProxyFixture proxy in _proxies)
        {
            await proxy.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    private void Need(params string[] names)
    {
        foreach (string name in names)
        {
            Tools.RequireNot(_upstreams.Unavailable.TryGetValue(name, out string? reason), $"{name} unavailable: {reason}");
        }
    }

    private static string Address(IPEndPoint endPoint) => $"127.0.0.1:{endPoint.Port}";

    private NodeOptions TinyproxyNode(string country = "de", string? password = RealUpstreamsFixture.Password) => new()
    {
        Id = "tinyproxy", Type = NodeType.Http, Address = Address(_upstreams.Tinyproxy!.EndPoint),
        Username = RealUpstreamsFixture.User, Password = password, Country = country, Network = "res",
    };

    private NodeOptions SquidNode(string country = "fr") => new()
    {
        Id = "squid", Type = NodeType.Http, Address = Address(_upstreams.Squid!.EndPoint), Country = country, Network = "dc",
    };

    private NodeOptions MicrosocksNode(string country = "gb", string? password = RealUpstreamsFixture.Password) => new()
    {
        Id = "microsocks", Type = NodeType.Socks5, Address = Address(_upstreams.Microsocks!.EndPoint),
        Username = RealUpstreamsFixture.User, Password = password, Country = country, Network = "mob",
    };

    private NodeOptions DanteNode(string country = "nl") => new()
    {
        Id = "dante", Type = NodeType.Socks5, Address = Address(_upstreams.Dante!.EndPoint), Country = country, Network = "res",
    };

    private ProxyFixture Proxy(params NodeOptions[] nodes)
    {
        var proxy = new ProxyFixture(o => o.Nodes = [.. nodes]);
        _proxies.Add(proxy);
        return proxy;
    }

    private Task<ProxyReply> Get(ProxyFixture proxy, string user) => ProxyReply.GetAsync(proxy.EndPoint, _origin.Port, user, ProxyFixture.Key);

    private Task<ProxyReply> Tunnel(ProxyFixture proxy, string user, int? port = null) =>
        ProxyReply.ConnectAsync(proxy.EndPoint, port ?? _origin.Port, user, ProxyFixture.Key);

    [SkippableTheory]
    [InlineData("tinyproxy", "de")]
    [InlineData("squid", "fr")]
    [InlineData("microsocks", "gb")]
    [InlineData("dante", "nl")]
    public async Task EachRealNode_CarriesTunnelsAndPlainRequests_SelectedByCountry(string name, string country)
    {
        Need("tinyproxy", "squid", "microsocks", "dante");
        ProxyFixture proxy = Proxy(TinyproxyNode(), SquidNode(), MicrosocksNode(), DanteNode());

        ProxyReply tunnel = await Tunnel(proxy, $"country-{country}");
        Assert.Equal(200, tunnel.Status);
        Assert.Equal(name, tunnel.Node);
        Assert.Contains("Hello, world!", tunnel.Body, StringComparison.Ordinal);

        ProxyReply get = await Get(proxy, $"country-{country}");
        Assert.Equal(200, get.Status);
        Assert.Equal(name, get.Node);
        Assert.Equal("Hello, world!", get.Body);
        Assert.Null(get.Error);
    }

    [SkippableFact]
    public async Task Session_StaysOnOneRealNode_AcrossTunnelsAndRequests()
    {
        Need("tinyproxy", "squid", "microsocks", "dante");
        ProxyFixture proxy = Proxy(TinyproxyNode("us"), SquidNode("us"), MicrosocksNode("us"), DanteNode("us"));
        string node = (await Tunnel(proxy, "country-us-session-real1")).Node!;
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(node, (await Tunnel(proxy, "country-us-session-real1")).Node);
            ProxyReply get = await Get(proxy, "country-us-session-real1");
            Assert.Equal(200, get.Status);
            Assert.Equal(node, get.Node);
        }
    }

    [SkippableTheory]
    [InlineData("tinyproxy")]
    [InlineData("microsocks")]
    public async Task WrongNodeCredentials_FailOverToAnotherNode_OrAreNodeUnavailable(string name)
    {
        Need(name);
        NodeOptions wrong = name == "tinyproxy" ? TinyproxyNode("us", "not-the-password") : MicrosocksNode("us", "not-the-password");
        ProxyFixture proxy = Proxy(wrong, new NodeOptions { Id = "direct", Type = NodeType.Direct, Country = "us" });
        Engine.Upstream.Node direct = proxy.Routing.Pool.Find("direct")!;
        for (int i = 0; i < 1000; i++)
        {
            direct.Enter();   // the real node is always the first choice
        }

        ProxyReply moved = await Tunnel(proxy, "country-us");
        Assert.Equal(200, moved.Status);
        Assert.Equal("direct", moved.Node);
        Assert.Equal("2", moved.Header("X-Proxy-Attempts"));

        ProxyReply refused = await Tunnel(proxy, "country-us-onerror-fail");
        Assert.Equal(502, refused.Status);
        Assert.Equal("NODE_UNAVAILABLE", refused.Error);
        using System.Text.Json.JsonDocument body = System.Text.Json.JsonDocument.Parse(refused.Body);
        Assert.Equal(name, body.RootElement.GetProperty("nodeId").GetString());
    }

    [SkippableTheory]
    [InlineData("squid")]
    [InlineData("tinyproxy")]
    [InlineData("dante")]
    [InlineData("microsocks")]
    public async Task ClosedTargetPort_ThroughARealNode_IsTargetConnectFailed_NotTheNodesFault(string name)
    {
        Need(name);
        NodeOptions node = name switch
        {
            "squid" => SquidNode("us"),
            "tinyproxy" => TinyproxyNode("us"),
            "dante" => DanteNode("us"),
            _ => MicrosocksNode("us"),
        };
        ProxyFixture proxy = Proxy(node);
        ProxyReply reply = await Tunnel(proxy, "country-us", TestPorts.Closed());
        Assert.Equal(502, reply.Status);
        Assert.Equal("TARGET_CONNECT_FAILED", reply.Error);
        Assert.Equal(0, proxy.Routing.Pool.Find(name)!.ConsecutiveFailures);
    }

    [SkippableFact]
    public async Task UnresolvableTarget_ThroughSquid_IsNameNotResolved()
    {
        Need("squid");
        ProxyFixture proxy = Proxy(SquidNode("us"));
        ProxyReply reply = await ProxyReply.ConnectAsync(proxy.EndPoint, 443, "country-us", ProxyFixture.Key, host: "name.invalid");
        Assert.Equal(502, reply.Status);
        Assert.Equal("NAME_NOT_RESOLVED", reply.Error);
        Assert.Equal(0, proxy.Routing.Pool.Find("squid")!.ConsecutiveFailures);
    }

    [SkippableFact]
    public async Task StoppedNode_SessionMovesToAReplacement()
    {
        Need("microsocks");
        Fixtures.Upstreams.Microsocks doomed = await Fixtures.Upstreams.Microsocks.StartAsync();
        bool stopped = false;
        try
        {
            var gone = new NodeOptions { Id = "gone", Type = NodeType.Socks5, Address = Address(doomed.EndPoint), Country = "us" };
            ProxyFixture proxy = Proxy(gone, new NodeOptions { Id = "direct", Type = NodeType.Direct, Country = "us" });
            Engine.Upstream.Node direct = proxy.Routing.Pool.Find("direct")!;
            for (int i = 0; i < 1000; i++)
            {
                direct.Enter();
            }

            Assert.Equal("gone", (await Tunnel(proxy, "country-us-session-z")).Node);
            await doomed.DisposeAsync();
            stopped = true;

            ProxyReply after = await Tunnel(proxy, "country-us-session-z");
            Assert.Equal(200, after.Status);
            Assert.Equal("direct", after.Node);
            Assert.Equal("2", after.Header("X-Proxy-Attempts"));
            Assert.Equal("direct", (await Tunnel(proxy, "country-us-session-z")).Node);
        }
        finally
        {
            if (!stopped)
            {
                await doomed.DisposeAsync();
            }
        }
    }
}
