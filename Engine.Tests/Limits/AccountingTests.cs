#pragma warning disable CA1859, CA2007, CA1849, CA1822, IDE0059, CA1515, CA1707, CA2000, CA1031, CA1305, CA1307, CA1310, CA5394
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Auth;
using Engine.Limits;
using Engine.Sessions;
using Engine.State;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;
using Engine.Upstream;

namespace Engine.Tests.Limits;

/// <summary>
/// Every error and abort path must give back the package's concurrency slot, the
/// node's in-flight count and the listener's connection slot.
/// </summary>
[Collection("Serial")]
public sealed class AccountingTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly List<ProxyFixture> _proxies = [];
    private readonly List<FakeNode> _fakes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ProxyFixture proxy in _proxies)
        {
            await proxy.DisposeAsync();
        }

        foreach (FakeNode fake in _fakes)
        {
            await fake.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    private const string PKey = "p-key";

    private static Package P(int concurrent = 4, string rules = "country-any") =>
        new("p", PKey, defaultRules: rules, limits: new PackageLimits(null, concurrent, null, null));

    private ProxyFixture Proxy(Action<ProxyFixtureOptions>? configure = null, Package? package = null)
    {
        var proxy = new ProxyFixture(o =>
        {
            o.Packages.Clear();
            o.Packages.Add(package ?? P());
            o.Health = new NodeHealthPolicy(TimeProvider.System, 100, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), 1000, TimeSpan.FromMinutes(10));
            o.Limits = new Engine.Connection.ConnectionLimits { ResponseHeadTimeout = TimeSpan.FromSeconds(2), IdleTimeout = TimeSpan.FromSeconds(2) };
            configure?.Invoke(o);
        });
        _proxies.Add(proxy);
        return proxy;
    }

    private FakeNode Fake(bool socks = false)
    {
        var fake = new FakeNode(socks);
        _fakes.Add(fake);
        return fake;
    }

    private static NodeOptions Upstream(string id, FakeNode fake, NodeType type = NodeType.Http) =>
        new() { Id = id, Type = type, Address = fake.Address, Country = "us", Network = "res" };

    private static string Auth(string user = "country-us", string key = PKey) =>
        "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes(user + ":" + key)) + "\r\n";

    private static async Task<Socket> OpenAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return socket;
    }

    private static Task SendAsync(Socket socket, string text) => socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);

    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await socket.ReceiveAsync(one, SocketFlags.None, timeout.Token) == 1)
        {
            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private static async Task<string> ReadAnswerAsync(Socket socket)
    {
        string head = await ReadHeadAsync(socket);
        int at = head.IndexOf("Content-Length:", StringComparison.OrdinalIgnoreCase);
        if (at >= 0)
        {
            int end = head.IndexOf('\r', at);
            int length = int.Parse(head[(at + 15)..end].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            byte[] body = new byte[length];
            int filled = 0;
            while (filled < length)
            {
                int n = await socket.ReceiveAsync(body.AsMemory(filled), SocketFlags.None);
                if (n == 0)
                {
                    break;
                }

                filled += n;
            }
        }

        return head;
    }

    /// <summary>Waits for every count to come back to zero, then asserts it did.</summary>
    private static async Task AssertSettledAsync(ProxyFixture proxy, bool connections = true)
    {
        for (int i = 0; i < 200; i++)
        {
            if (Counts(proxy) == (0, 0, 0) || (!connections && Counts(proxy) is (0, 0, _)))
            {
                return;
            }

            await Task.Delay(50);
        }

        (int package, int nodes, long open) = Counts(proxy);
        Assert.Equal("package 0 nodes 0 open 0", $"package {package} nodes {nodes} open {(connections ? open : 0)}");
        Assert.Equal(0, package);
        Assert.Equal(0, nodes);
        if (connections)
        {
            Assert.Equal(0L, open);
        }
    }

    private static (int Package, int Nodes, long Open) Counts(ProxyFixture proxy) =>
        (proxy.Services.Limiter.InFlight("p"), proxy.Routing.Pool.Nodes.Sum(n => n.InFlight), proxy.Server.OpenConnections);

    [Fact]
    public async Task Forward_ClientGoneWhileWaitingForHead()
    {
        ProxyFixture proxy = Proxy();
        using (Socket s = await OpenAsync(proxy.EndPoint))
        {
            await SendAsync(s, $"GET http://127.0.0.1:{_origin.Port}/hang HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
            await Task.Delay(300);
            Assert.Equal(1, proxy.Services.Limiter.InFlight("p"));
        }

        await AssertSettledAsync(proxy);
    }

    [Fact]
    public async Task Forward_ClientGoneMidResponseBody()
    {
        ProxyFixture proxy = Proxy();
        using (Socket s = await OpenAsync(proxy.EndPoint))
        {
            await SendAsync(s, $"GET http://127.0.0.1:{_origin.Port}/bytes/200000000 HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
            await ReadHeadAsync(s);
            await s.ReceiveAsync(new byte[10000], SocketFlags.None);
            s.LingerState = new LingerOption(true, 0);
        }

        await AssertSettledAsync(proxy);
    }

    [Fact]
    public async Task Forward_ClientGoneMidUpload()
    {
        ProxyFixture proxy = Proxy();
        using (Socket s = await OpenAsync(proxy.EndPoint))
        {
            await SendAsync(s, $"POST http://127.0.0.1:{_origin.Port}/echo HTTP/1.1\r\nHost: x\r\n{Auth()}Content-Length: 1000000\r\n\r\n");
            await s.SendAsync(new byte[5000], SocketFlags.None);
            await Task.Delay(300);
        }

        await AssertSettledAsync(proxy);
    }

    [Fact]
    public async Task Forward_ResponseHeadTimeout_ThenKeepAlive()
    {
        ProxyFixture proxy = Proxy(o => o.Limits = new Engine.Connection.ConnectionLimits { ResponseHeadTimeout = TimeSpan.FromMilliseconds(300) });
        using Socket s = await OpenAsync(proxy.EndPoint);
        await SendAsync(s, $"GET http://127.0.0.1:{_origin.Port}/hang HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        string head = await ReadAnswerAsync(s);
        Assert.StartsWith("HTTP/1.1 504", head);
        await AssertSettledAsync(proxy, connections: false);
    }

    [Fact]
    public async Task Forward_ConnectFailed_KeepAlive()
    {
        ProxyFixture proxy = Proxy();
        using Socket s = await OpenAsync(proxy.EndPoint);
        await SendAsync(s, $"GET http://127.0.0.1:1/small HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        string head = await ReadAnswerAsync(s);
        Assert.StartsWith("HTTP/1.1 502", head);
        await AssertSettledAsync(proxy, connections: false);
    }

    [Fact]
    public async Task Forward_StalePooledConnection_Retry()
    {
        ProxyFixture proxy = Proxy();
        using Socket s = await OpenAsync(proxy.EndPoint);
        await SendAsync(s, $"GET http://127.0.0.1:{_origin.Port}/then-close HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        Assert.StartsWith("HTTP/1.1 200", await ReadAnswerAsync(s));
        await SendAsync(s, $"GET http://127.0.0.1:{_origin.Port}/small HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        Assert.StartsWith("HTTP/1.1 200", await ReadAnswerAsync(s));
        await AssertSettledAsync(proxy, connections: false);
    }

    [Fact]
    public async Task Tunnel_ClientGoneMidTunnel()
    {
        ProxyFixture proxy = Proxy();
        using (Socket s = await OpenAsync(proxy.EndPoint))
        {
            await SendAsync(s, $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
            Assert.StartsWith("HTTP/1.1 200", await ReadHeadAsync(s));
            await SendAsync(s, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
            await Task.Delay(200);
            Assert.Equal(1, proxy.Services.Limiter.InFlight("p"));
        }

        await AssertSettledAsync(proxy);
    }

    [Fact]
    public async Task Tunnel_RefusedAfterAdmission_KeepAlive()
    {
        ProxyFixture proxy = Proxy(o => o.AllowedConnectPorts = [443]);
        using Socket s = await OpenAsync(proxy.EndPoint);
        for (int i = 0; i < 6; i++)
        {
            await SendAsync(s, $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
            Assert.StartsWith("HTTP/1.1 403", await ReadAnswerAsync(s));
        }

        await SendAsync(s, $"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        await ReadAnswerAsync(s);
        await AssertSettledAsync(proxy, connections: false);
    }

    [Fact]
    public async Task Nodes_FailoverAndTranslatedErrors()
    {
        FakeNode broken = Fake();
        broken.Mode = FakeNodeMode.Reset;
        FakeNode auth = Fake();
        auth.Mode = FakeNodeMode.AuthRequired;
        FakeNode good = Fake();
        ProxyFixture proxy = Proxy(o => o.Nodes = [Upstream("a", broken), Upstream("b", auth), Upstream("c", good)]);
        for (int i = 0; i < 6; i++)
        {
            ProxyReply get = await ProxyReply.GetAsync(proxy.EndPoint, _origin.Port, "country-us", PKey);
            ProxyReply tunnel = await ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us", PKey);
            ProxyReply post = await ProxyReply.GetAsync(proxy.EndPoint, _origin.Port, "country-us", PKey, method: "POST");
        }

        good.Mode = FakeNodeMode.TargetRefused;
        for (int i = 0; i < 3; i++)
        {
            await ProxyReply.GetAsync(proxy.EndPoint, _origin.Port, "country-us", PKey);
            await ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us", PKey);
        }

        await AssertSettledAsync(proxy);
    }

    [Fact]
    public async Task Shutdown_WithRequestsInFlight()
    {
        ProxyFixture proxy = Proxy(o => o.Drain = TimeSpan.FromMilliseconds(300));
        using Socket a = await OpenAsync(proxy.EndPoint);
        using Socket b = await OpenAsync(proxy.EndPoint);
        await SendAsync(a, $"GET http://127.0.0.1:{_origin.Port}/hang HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        await SendAsync(b, $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        Assert.StartsWith("HTTP/1.1 200", await ReadHeadAsync(b));
        await Task.Delay(200);
        Assert.Equal(2, proxy.Services.Limiter.InFlight("p"));
        await proxy.StopAsync();
        await AssertSettledAsync(proxy);
    }

    [Fact]
    public async Task Concurrency429_OnKeepAlive_ThenFreed()
    {
        ProxyFixture proxy = Proxy(package: P(concurrent: 1));
        using Socket holder = await OpenAsync(proxy.EndPoint);
        await SendAsync(holder, $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
        Assert.StartsWith("HTTP/1.1 200", await ReadHeadAsync(holder));
        using Socket s = await OpenAsync(proxy.EndPoint);
        for (int i = 0; i < 3; i++)
        {
            await SendAsync(s, $"GET http://127.0.0.1:{_origin.Port}/small HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
            Assert.StartsWith("HTTP/1.1 429", await ReadAnswerAsync(s));
            await SendAsync(s, $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: x\r\n{Auth()}\r\n");
            Assert.StartsWith("HTTP/1.1 429", await ReadAnswerAsync(s));
        }

        holder.Close();
        await AssertSettledAsync(proxy, connections: false);
    }

    [Fact]
    public async Task Socks_HandshakeFailuresAndTunnels()
    {
        ProxyFixture proxy = Proxy(o => o.Socks = true);
        byte[] user = Encoding.ASCII.GetBytes("country-us");
        byte[] key = Encoding.ASCII.GetBytes(PKey);
        byte[] UserPass(byte[] k) => [1, (byte)user.Length, .. user, (byte)k.Length, .. k];
        byte[] Connect(int port) => [5, 1, 0, 1, 127, 0, 0, 1, (byte)(port >> 8), (byte)port];

        async Task RunAsync(byte[] pass, int port, bool closeEarly)
        {
            using Socket s = await OpenAsync(proxy.SocksEndPoint);
            await s.SendAsync(new byte[] { 5, 1, 2 }, SocketFlags.None);
            byte[] buffer = new byte[64];
            await s.ReceiveAsync(buffer, SocketFlags.None);
            await s.SendAsync(UserPass(pass), SocketFlags.None);
            int n = await s.ReceiveAsync(buffer, SocketFlags.None);
            if (n < 2 || buffer[1] != 0)
            {
                return;
            }

            if (closeEarly)
            {
                return;
            }

            await s.SendAsync(Connect(port), SocketFlags.None);
            n = await s.ReceiveAsync(buffer, SocketFlags.None);
            if (n >= 2 && buffer[1] == 0)
            {
                await s.SendAsync(Encoding.ASCII.GetBytes("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"), SocketFlags.None);
                await Task.Delay(100);
            }
        }

        await RunAsync(Encoding.ASCII.GetBytes("wrong"), _origin.Port, false);
        await RunAsync(key, _origin.Port, true);
        await RunAsync(key, 1, false);
        await RunAsync(key, _origin.Port, false);
        await AssertSettledAsync(proxy);
    }
}

internal sealed class FaultingTokenStore(IStateStore inner) : IStateStore
{
    public int Faults = 1;

    public ISessionStore Sessions => inner.Sessions;

    public ValueTask<RateDecision> TakeTokenAsync(string packageId, int ratePerSecond) =>
        Interlocked.Decrement(ref Faults) >= 0 ? throw new InvalidOperationException("injected: unexpected script answer") : inner.TakeTokenAsync(packageId, ratePerSecond);

    public void AddTraffic(string packageId, long bytes) => inner.AddTraffic(packageId, bytes);

    public long TrafficUsed(string packageId) => inner.TrafficUsed(packageId);

    public long CreditsUsed => inner.CreditsUsed;

    public bool IsDegraded => inner.IsDegraded;

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>A session store whose bind fails once (a store fault after the node connected).</summary>
internal sealed class FaultingBindStore(ISessionStore inner) : DelegatingSessionStore(inner)
{
    private readonly ISessionStore _inner = inner;

    public int Faults = 1;

    public override ValueTask<bool> BindAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, string? expectedNodeId, string nodeId) =>
        Interlocked.Decrement(ref Faults) >= 0 ? throw new InvalidOperationException("injected: session store fault") : _inner.BindAsync(packageId, sessionId, fingerprint, terms, expectedNodeId, nodeId);
}

[Collection("Serial")]
public sealed class AccountingFaultTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private ProxyFixture? _proxy;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task RateCheckFault_AfterConcurrencySlotTaken_GivesTheSlotBack()
    {
        var store = new FaultingTokenStore(new MemoryStateStore(TimeProvider.System));
        _proxy = new ProxyFixture(o =>
        {
            o.Packages.Clear();
            o.Packages.Add(new Package("p", "p-key", defaultRules: "country-any", limits: new PackageLimits(1000, 1, null, null)));
            o.State = store;
        });

        ProxyReply first = await ProxyReply.GetAsync(_proxy.EndPoint, _origin.Port, "country-us", "p-key");
        Assert.Equal(500, first.Status);   // the fault is answered as INTERNAL_ERROR
        ProxyReply second = await ProxyReply.GetAsync(_proxy.EndPoint, _origin.Port, "country-us", "p-key");
        Assert.Equal($"200 {null} inFlight 0", $"{second.Status} {second.Header("X-Proxy-Limited-By")} inFlight {_proxy.Services.Limiter.InFlight("p")}");
    }

    [Fact]
    public async Task SessionBindFault_AfterConnect_ClosesTheUpstreamSocket()
    {
        using var target = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        target.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        target.Listen(8);
        int port = ((IPEndPoint)target.LocalEndPoint!).Port;
        _proxy = new ProxyFixture(o =>
        {
            o.Packages.Clear();
            o.Packages.Add(new Package("p", "p-key", defaultRules: "country-any", limits: new PackageLimits(null, 4, null, null)));
            o.Sessions = new FaultingBindStore(new MemorySessionStore(TimeProvider.System));
        });

        ProxyReply reply = await ProxyReply.ConnectAsync(_proxy.EndPoint, port, "country-us-session-abc", "p-key");
        Assert.Equal(500, reply.Status);
        using Socket accepted = await target.AcceptAsync();
        // The engine's side of this connection must be closed: the target reads its FIN.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        int read;
        try
        {
            read = await accepted.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token);
        }
        catch (OperationCanceledException)
        {
            read = -1;
        }

        Assert.Equal($"closed 0 package 0 nodes 0", $"closed {read} package {_proxy.Services.Limiter.InFlight("p")} nodes {_proxy.Routing.Pool.Nodes.Sum(n => n.InFlight)}");
    }
}
