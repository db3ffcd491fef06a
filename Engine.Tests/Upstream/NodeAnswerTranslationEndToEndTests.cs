using System.Net;
using System.Text.Json;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>
/// A node's own error answer, translated end to end (errors.md; issue 15 point 2, issue 17's gateways): plain
/// <c>http://</c> requests and CONNECTs through real squid, real tinyproxy and a real second engine as http nodes
/// and as a provider gateway. The client sees our catalog code with the node's words in the <c>upstream</c> member,
/// the access-log line carries them, a target failure never counts against the node, a node failure fails over,
/// and an answer without any proxy error signal is the target's, relayed untouched. Names that must not resolve
/// (name.invalid) go to <see cref="LoopbackDns"/> only.
/// </summary>
[Collection("Serial")]
public sealed class NodeAnswerTranslationEndToEndTests : IClassFixture<RealUpstreamsFixture>, IClassFixture<NodeAnswerTranslationEndToEndTests.ChainedEngine>, IAsyncLifetime
{
    private readonly RealUpstreamsFixture _upstreams;
    private readonly ChainedEngine _chained;
    private readonly List<ProxyFixture> _proxies = [];

    public NodeAnswerTranslationEndToEndTests(RealUpstreamsFixture upstreams, ChainedEngine chained)
    {
        _upstreams = upstreams;
        _chained = chained;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ProxyFixture proxy in _proxies)
        {
            await proxy.DisposeAsync();
        }
    }

    private TestOrigin Origin => _chained.Origin;

    private void Need(string name) =>
        Tools.RequireNot(_upstreams.Unavailable.TryGetValue(name, out string? reason), $"{name} unavailable: {reason}");

    private static void NeedHermeticDns() => Tools.RequireNot(LoopbackDns.UnavailableReason is not null, LoopbackDns.UnavailableReason ?? string.Empty);

    private static string Address(IPEndPoint endPoint) => $"127.0.0.1:{endPoint.Port}";

    private NodeOptions SquidNode() => new() { Id = "de-squid", Type = NodeType.Http, Address = Address(_upstreams.Squid!.EndPoint), Country = "us" };

    private NodeOptions TinyproxyNode() => new()
    {
        Id = "tinyproxy", Type = NodeType.Http, Address = Address(_upstreams.Tinyproxy!.EndPoint),
        Username = RealUpstreamsFixture.User, Password = RealUpstreamsFixture.Password, Country = "us",
    };

    /// <summary>The chained engine as a plain http node whose username picks its exits (<paramref name="rules"/>).</summary>
    private NodeOptions ChainNode(string id, string rules) => new()
    {
        Id = id, Type = NodeType.Http, Address = Address(_chained.Engine.EndPoint), Username = rules, Password = ChainedEngine.Key, Country = "us",
    };

    private NodeOptions GatewayNode() => new()
    {
        Id = "provider", Type = NodeType.Http, Address = Address(_chained.Engine.EndPoint),
        Gateway = new GatewayOptions { UsernameTemplate = "network-any[-country-{country}]", Password = ChainedEngine.Key },
    };

    private ProxyFixture Proxy(params NodeOptions[] nodes)
    {
        var proxy = new ProxyFixture(o => o.Nodes = [.. nodes]);
        _proxies.Add(proxy);
        return proxy;
    }

    private static Upstream UpstreamOf(ProxyReply reply)
    {
        using var body = JsonDocument.Parse(reply.Body);
        JsonElement upstream = body.RootElement.GetProperty("upstream");
        return new Upstream(
            upstream.GetProperty("nodeId").GetString(),
            upstream.GetProperty("status").GetInt32(),
            upstream.TryGetProperty("error", out JsonElement error) ? error.GetString() : null,
            upstream.GetProperty("source").GetString());
    }

    private static async Task<string> LogLineAsync(ProxyFixture proxy) => (await proxy.LogLinesAsync())[^1];

    // :: Plain http:// through squid and tinyproxy

    [SkippableFact]
    public async Task Squid_UnresolvableName_IsNameNotResolved_WithTheUpstreamMember_InTheAnswerAndTheLog()
    {
        Need("squid");
        NeedHermeticDns();
        ProxyFixture proxy = Proxy(SquidNode());

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, 80, "country-us", ProxyFixture.Key, host: "name.invalid");

        Assert.Equal(502, reply.Status);
        Assert.Equal("NAME_NOT_RESOLVED", reply.Error);
        Assert.Equal("application/problem+json", reply.Header("Content-Type"));
        // Squid 5.7 says ERR_READ_ERROR 0 for a name it found no address for (NodeAnswers/README.md).
        Assert.Equal(new Upstream("de-squid", 502, "ERR_READ_ERROR", "X-Squid-Error"), UpstreamOf(reply));
        string line = await LogLineAsync(proxy);
        Assert.Contains("code=NAME_NOT_RESOLVED", line, StringComparison.Ordinal);
        Assert.Contains("up_status=502 up_error=ERR_READ_ERROR up_source=X-Squid-Error", line, StringComparison.Ordinal);
        Assert.Equal(0, proxy.Routing.Pool.Find("de-squid")!.ConsecutiveFailures);   // the target's failure, not the node's
        Assert.Equal(0, proxy.Services.UpstreamPool!.IdleCount);                       // the node's connection was closed
    }

    [SkippableFact]
    public async Task Squid_ClosedPort_IsTargetConnectFailed_NamingSquidsError()
    {
        Need("squid");
        ProxyFixture proxy = Proxy(SquidNode());

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, TestPorts.Closed(), "country-us", ProxyFixture.Key);

        Assert.Equal(502, reply.Status);
        Assert.Equal("TARGET_CONNECT_FAILED", reply.Error);
        Assert.Equal(new Upstream("de-squid", 503, "ERR_CONNECT_FAIL", "X-Squid-Error"), UpstreamOf(reply));
        Assert.Contains("up_error=ERR_CONNECT_FAIL", await LogLineAsync(proxy), StringComparison.Ordinal);
        Assert.Equal(0, proxy.Routing.Pool.Find("de-squid")!.ConsecutiveFailures);
    }

    [SkippableFact]
    public async Task Tinyproxy_UnresolvableName_IsTargetConnectFailed_FromItsPage()
    {
        Need("tinyproxy");
        NeedHermeticDns();
        ProxyFixture proxy = Proxy(TinyproxyNode());

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, 80, "country-us", ProxyFixture.Key, host: "name.invalid");

        // tinyproxy gives an unknown name and a refused port the same "500 Unable to connect".
        Assert.Equal(502, reply.Status);
        Assert.Equal("TARGET_CONNECT_FAILED", reply.Error);
        Assert.Equal(new Upstream("tinyproxy", 500, "Unable to connect", "tinyproxy"), UpstreamOf(reply));
        // logfmt fields carry no spaces (AccessLogLineWriter).
        Assert.Contains("up_status=500 up_error=Unable?to?connect up_source=tinyproxy", await LogLineAsync(proxy), StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("squid")]
    [InlineData("tinyproxy")]
    public async Task TargetsOwn503_ThroughARealNode_IsRelayedUntouched(string name)
    {
        Need(name);
        ProxyFixture proxy = Proxy(name == "squid" ? SquidNode() : TinyproxyNode());

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, Origin.Port, "country-us", ProxyFixture.Key, path: "/503");

        Assert.Equal(503, reply.Status);
        Assert.Equal("busy!", reply.Body);
        Assert.Equal("7", reply.Header("Retry-After"));
        Assert.Null(reply.Error);
        string line = await LogLineAsync(proxy);
        Assert.Contains("status=503 code=-", line, StringComparison.Ordinal);
        Assert.DoesNotContain("up_status=", line, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Squid_UnresolvableName_Connect_CarriesTheUpstreamMemberToo()
    {
        Need("squid");
        NeedHermeticDns();
        ProxyFixture proxy = Proxy(SquidNode());

        ProxyReply reply = await ProxyReply.ConnectAsync(proxy.EndPoint, 443, "country-us", ProxyFixture.Key, host: "name.invalid");

        Assert.Equal(502, reply.Status);
        Assert.Equal("NAME_NOT_RESOLVED", reply.Error);
        Assert.Equal(new Upstream("de-squid", 500, "ERR_CANNOT_FORWARD", "X-Squid-Error"), UpstreamOf(reply));
        Assert.Contains("up_error=ERR_CANNOT_FORWARD", await LogLineAsync(proxy), StringComparison.Ordinal);
    }

    // :: A second engine as the node

    [SkippableFact]
    public async Task ChainedEngine_UnresolvableName_IsNameNotResolved_FromItsXProxyError()
    {
        NeedHermeticDns();
        ProxyFixture proxy = Proxy(ChainNode("chain", "country-us"));

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, 80, "country-us", ProxyFixture.Key, host: "name.invalid");

        Assert.Equal(502, reply.Status);
        Assert.Equal("NAME_NOT_RESOLVED", reply.Error);
        Assert.Equal(new Upstream("chain", 502, "NAME_NOT_RESOLVED", "X-Proxy-Error"), UpstreamOf(reply));
        Assert.Contains("up_status=502 up_error=NAME_NOT_RESOLVED up_source=X-Proxy-Error", await LogLineAsync(proxy), StringComparison.Ordinal);
        Assert.Equal(0, proxy.Routing.Pool.Find("chain")!.ConsecutiveFailures);
    }

    [Fact]
    public async Task ChainedEngine_SpoofingOrigin_IsTheTargetsAnswer_RelayedUntouched()
    {
        // The origin dresses its 502 up as an engine error; the chained engine strips X-Proxy-Error and appends
        // its own Proxy-Status member (no error=), so nothing the front reads is a signal: the target's page.
        ProxyFixture proxy = Proxy(ChainNode("chain", "country-us"));

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, Origin.Port, "country-us", ProxyFixture.Key, path: "/spoof");

        Assert.Equal(502, reply.Status);
        Assert.Equal("spoofed", reply.Body);
        Assert.Null(reply.Error);
        Assert.Equal("chain", reply.Node);
        Assert.DoesNotContain("up_status=", await LogLineAsync(proxy), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChainedEngine_ItsOwnNodeFailure_FailsOverToTheNextNode()
    {
        // country-de at the chained engine is a dead exit: it answers NODE_UNAVAILABLE, a node failure here.
        ProxyFixture proxy = Proxy(ChainNode("chain-dead", "country-de"), new NodeOptions { Id = "local", Type = NodeType.Direct, Country = "us" });
        Node local = proxy.Routing.Pool.Find("local")!;
        for (int i = 0; i < 1000; i++)
        {
            local.Enter();   // looks busy: the chain is chosen first
        }

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, Origin.Port, "country-us", ProxyFixture.Key);

        Assert.Equal(200, reply.Status);
        Assert.Equal("local", reply.Node);
        Assert.Equal("2", reply.Header("X-Proxy-Attempts"));
        Assert.Equal(1, proxy.Routing.Pool.Find("chain-dead")!.ConsecutiveFailures);
        Assert.DoesNotContain("up_status=", await LogLineAsync(proxy), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChainedEngine_ItsOwnNodeFailure_OnARequestThatCannotBeResent_IsNodeUnavailable_WithTheUpstreamMember()
    {
        ProxyFixture proxy = Proxy(ChainNode("chain-dead", "country-de"));

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, Origin.Port, "country-us", ProxyFixture.Key, path: "/echo", method: "POST");

        Assert.Equal(502, reply.Status);
        Assert.Equal("NODE_UNAVAILABLE", reply.Error);
        Assert.Equal(new Upstream("chain-dead", 502, "NODE_UNAVAILABLE", "X-Proxy-Error"), UpstreamOf(reply));
        Assert.Contains("up_error=NODE_UNAVAILABLE up_source=X-Proxy-Error", await LogLineAsync(proxy), StringComparison.Ordinal);
        Assert.Equal(1, proxy.Routing.Pool.Find("chain-dead")!.ConsecutiveFailures);
    }

    // :: A second engine as a provider gateway (issue 17)

    [SkippableFact]
    public async Task Gateway_ProvidersNameNotResolved_IsTranslated_KeepingTheGatewaysId()
    {
        NeedHermeticDns();
        ProxyFixture proxy = Proxy(GatewayNode());

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, 80, "country-us", ProxyFixture.Key, host: "name.invalid");

        Assert.Equal(502, reply.Status);
        Assert.Equal("NAME_NOT_RESOLVED", reply.Error);
        Assert.Equal(new Upstream("provider", 502, "NAME_NOT_RESOLVED", "X-Proxy-Error"), UpstreamOf(reply));
        Assert.Contains("node=provider", await LogLineAsync(proxy), StringComparison.Ordinal);
        Assert.Equal(0, proxy.Routing.Pool.Find("provider")!.ConsecutiveFailures);
    }

    [Fact]
    public async Task Gateway_ProviderFailsEverySession_IsNodeUnavailable_WithTheProvidersWords()
    {
        // Rendered network-any-country-de: the provider's only de exit is dead. Each attempt asks the provider for a
        // new session (MaxAttempts 3), then the client gets NODE_UNAVAILABLE with the provider's own answer.
        ProxyFixture proxy = Proxy(GatewayNode());

        ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, Origin.Port, "country-de", ProxyFixture.Key);

        Assert.Equal(502, reply.Status);
        Assert.Equal("NODE_UNAVAILABLE", reply.Error);
        Assert.Equal(new Upstream("provider", 502, "NODE_UNAVAILABLE", "X-Proxy-Error"), UpstreamOf(reply));
        string line = await LogLineAsync(proxy);
        Assert.Contains("attempts=3", line, StringComparison.Ordinal);
        Assert.Contains("up_error=NODE_UNAVAILABLE up_source=X-Proxy-Error", line, StringComparison.Ordinal);
    }

    private sealed record Upstream(string? NodeId, int Status, string? Error, string? Source);

    /// <summary>
    /// A second engine process, resolving through <see cref="LoopbackDns"/>: country-us exits are direct, the one
    /// country-de exit is an http node on a closed port (so country-de answers NODE_UNAVAILABLE). Also the origin.
    /// </summary>
    public sealed class ChainedEngine : IAsyncLifetime
    {
        public const string Key = "chain-key";

        internal EngineProcess Engine { get; private set; } = null!;

        internal TestOrigin Origin { get; } = new();

        public async Task InitializeAsync()
        {
            Engine = await EngineProcess.StartAsync($$"""
                { "Engine": {
                    "Name": "chained",
                    "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
                    "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [] },
                    "AccessLog": { "Enabled": false },
                    "Packages": [ { "Id": "customer", "Key": "{{Key}}", "DefaultRules": "country-any" } ],
                    "Nodes": [
                        { "Id": "exit-us-1", "Type": "direct", "Country": "us" },
                        { "Id": "exit-de-dead", "Type": "http", "Address": "127.0.0.1:{{TestPorts.Closed()}}", "Country": "de" } ] } }
                """, hermeticDns: true);
        }

        public async Task DisposeAsync()
        {
            await Engine.DisposeAsync();
            await Origin.DisposeAsync();
        }
    }
}
