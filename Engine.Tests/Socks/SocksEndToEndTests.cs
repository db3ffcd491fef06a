using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Auth;
using Engine.Errors;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Upstream;

namespace Engine.Tests.Socks;

/// <summary>SOCKS5 clients (curl, HttpClient, raw sockets) through the engine's SOCKS5 listener to a real origin.</summary>
public sealed class SocksEndToEndTests : IAsyncLifetime
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

    private ProxyFixture Proxy(Action<ProxyFixtureOptions>? configure = null)
    {
        var proxy = new ProxyFixture(o =>
        {
            o.Socks = true;
            configure?.Invoke(o);
        });
        _owned.Add(proxy);
        return proxy;
    }

    private static async Task<(int Exit, string Output)> CurlAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process curl = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string output = await curl.StandardOutput.ReadToEndAsync(timeout.Token);
        await curl.WaitForExitAsync(timeout.Token);
        return (curl.ExitCode, output);
    }

    [Theory]
    [InlineData("socks5h")]   // the engine resolves the name (ATYP 3)
    [InlineData("socks5")]    // curl resolves, sends the address (ATYP 1)
    public async Task Curl_WithCredentials_GetsTheOrigin(string scheme)
    {
        ProxyFixture proxy = Proxy();
        (int exit, string output) = await CurlAsync("-s", "--max-time", "10", "-x",
            $"{scheme}://country-us:{ProxyFixture.Key}@127.0.0.1:{proxy.SocksEndPoint.Port}", $"http://localhost:{_origin.Port}/small");
        Assert.Equal(0, exit);
        Assert.Equal("Hello, world!", output);
        string[] log = await proxy.LogLinesAsync();
        Assert.Contains("method=CONNECT", log[0], StringComparison.Ordinal);
        Assert.Contains("status=200", log[0], StringComparison.Ordinal);
        Assert.Contains("pkg=demo", log[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task AutoDetectListener_ServesHttpAndSocks5OnOnePort()
    {
        ProxyFixture proxy = Proxy(o => o.AutoDetect = true);
        string url = $"http://127.0.0.1:{_origin.Port}/small";
        (int socksExit, string socks) = await CurlAsync("-s", "--max-time", "10", "-x", $"socks5h://country-us:{ProxyFixture.Key}@127.0.0.1:{proxy.EndPoint.Port}", url);
        (int httpExit, string http) = await CurlAsync("-s", "--max-time", "10", "-x", $"http://country-us:{ProxyFixture.Key}@127.0.0.1:{proxy.EndPoint.Port}", url);
        Assert.Equal((0, "Hello, world!"), (socksExit, socks));
        Assert.Equal((0, "Hello, world!"), (httpExit, http));
    }

    [Fact]
    public async Task HttpClient_WithSocks5WebProxy_Works()
    {
        ProxyFixture proxy = Proxy();
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy($"socks5://127.0.0.1:{proxy.SocksEndPoint.Port}") { Credentials = new NetworkCredential("country-us", ProxyFixture.Key) },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal("Hello, world!", await client.GetStringAsync($"http://127.0.0.1:{_origin.Port}/small"));
    }

    [Fact]
    public async Task Session_SameNodeAsOverHttp()
    {
        ProxyFixture proxy = Proxy(o => o.Nodes =
        [
            new NodeOptions { Id = "a", Type = NodeType.Direct, Country = "us" },
            new NodeOptions { Id = "b", Type = NodeType.Direct, Country = "us" },
            new NodeOptions { Id = "c", Type = NodeType.Direct, Country = "us" },
        ]);
        string node = (await Upstream.ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us-session-mix", ProxyFixture.Key)).Node!;
        for (int i = 0; i < 4; i++)
        {
            (int exit, string output) = await CurlAsync("-s", "--max-time", "10", "-x",
                $"socks5h://country-us-session-mix:{ProxyFixture.Key}@127.0.0.1:{proxy.SocksEndPoint.Port}", $"http://127.0.0.1:{_origin.Port}/small");
            Assert.Equal(0, exit);
            Assert.Equal("Hello, world!", output);
        }

        string[] log = await proxy.LogLinesAsync(5);
        Assert.All(log, line => Assert.Contains($"node={node}", line, StringComparison.Ordinal));
    }

    [Fact]
    public async Task IpAuth_NoCredentials_UsesThePackageOfTheClientAddress()
    {
        ProxyFixture proxy = Proxy(o =>
        {
            o.Packages.Clear();
            o.Packages.Add(new Package("office", "office-key", ipAuth: [IPNetwork.Parse("127.0.0.0/8")], defaultRules: "country-us"));
        });
        (int exit, string output) = await CurlAsync("-s", "--max-time", "10", "-x", $"socks5h://127.0.0.1:{proxy.SocksEndPoint.Port}", $"http://127.0.0.1:{_origin.Port}/small");
        Assert.Equal(0, exit);
        Assert.Equal("Hello, world!", output);
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return socket;
    }

    /// <summary>Everything the server sends until it closes (bounded by a timeout).</summary>
    private static async Task<byte[]> ReadUntilClosedAsync(Socket socket, int seconds = 10)
    {
        var all = new MemoryStream();
        byte[] buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }

    private static byte[] UserPass(string user, string password) =>
        [1, (byte)user.Length, .. Encoding.ASCII.GetBytes(user), (byte)password.Length, .. Encoding.ASCII.GetBytes(password)];

    private static byte[] ConnectRequest(string host, int port) =>
        [5, 1, 0, 3, (byte)host.Length, .. Encoding.ASCII.GetBytes(host), (byte)(port >> 8), (byte)port];

    /// <summary>Greeting, credentials, CONNECT; returns every byte the server sent until it closed or 10 replies' worth arrived.</summary>
    private static async Task<byte[]> HandshakeAsync(IPEndPoint endPoint, string user, string password, byte[] request)
    {
        using Socket socket = await ConnectAsync(endPoint);
        await socket.SendAsync(new byte[] { 5, 1, 2 }, SocketFlags.None);
        byte[] method = new byte[2];
        await socket.ReceiveAsync(method, SocketFlags.None);
        Assert.Equal(new byte[] { 5, 2 }, method);
        await socket.SendAsync(UserPass(user, password), SocketFlags.None);
        byte[] status = new byte[2];
        await socket.ReceiveAsync(status, SocketFlags.None);
        if (status[1] != 0)
        {
            return [.. status, .. await ReadUntilClosedAsync(socket)];
        }

        await socket.SendAsync(request, SocketFlags.None);
        byte[] reply = new byte[10];
        int n = await socket.ReceiveAsync(reply, SocketFlags.None);
        return [.. status, .. reply.AsSpan(0, n).ToArray()];
    }

    [Theory]
    [InlineData("country-us", "wrong-key", "AUTH_FAILED")]
    [InlineData("city-los-angeles", ProxyFixture.Key, "ERR_UNKNOWN_PARAM")]
    [InlineData("country-us", "paused-key", "PACKAGE_PAUSED")]
    public async Task AuthStepRefusals_AreRfc1929Failures_ThenClose_AndLoggedWithTheirCode(string user, string key, string code)
    {
        ProxyFixture proxy = Proxy();
        byte[] answer = await HandshakeAsync(proxy.SocksEndPoint, user, key, ConnectRequest("localhost", _origin.Port));
        Assert.Equal(new byte[] { 1, 1 }, answer);
        string[] log = await proxy.LogLinesAsync();
        Assert.Contains("code=" + code, log[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task CatalogErrors_AtTheRequest_AreTheirRfc1928ReplyCodes()
    {
        int closed = TestPorts.Closed();
        ProxyFixture proxy = Proxy(o =>
        {
            o.BlockedDomains = ["blocked.example"];
            o.Resolve = (host, _) => host == "nowhere.invalid" ? throw new SocketException((int)SocketError.HostNotFound) : Task.FromResult(new[] { IPAddress.Loopback });
        });
        (string Host, int Port, ErrorCode Code)[] cases =
        [
            ("localhost", closed, ErrorCode.TargetConnectFailed),
            ("blocked.example", 443, ErrorCode.Disallowed),
            ("nowhere.invalid", 443, ErrorCode.NameNotResolved),
        ];
        foreach ((string host, int port, ErrorCode code) in cases)
        {
            byte[] answer = await HandshakeAsync(proxy.SocksEndPoint, "country-us", ProxyFixture.Key, ConnectRequest(host, port));
            Assert.Equal(0, answer[1]);
            Assert.Equal(5, answer[2]);
            Assert.Equal((byte)ErrorCatalog.Get(code).Socks5Reply, answer[3]);
        }

        ProxyReplyCodes(await proxy.LogLinesAsync(3), ["TARGET_CONNECT_FAILED", "DISALLOWED", "NAME_NOT_RESOLVED"]);
    }

    [Fact]
    public async Task PackageWithoutSocks5_PassesAuth_ButTheRequestIsNotAllowed0x02()
    {
        ProxyFixture proxy = Proxy();
        byte[] answer = await HandshakeAsync(proxy.SocksEndPoint, "country-us", "tunnels-key", ConnectRequest("localhost", _origin.Port));
        Assert.Equal(0, answer[1]);
        Assert.Equal((byte)Socks5Reply.NotAllowedByRuleset, answer[3]);
    }

    [Theory]
    [InlineData(new byte[] { 4, 1, 0, 80, 127, 0, 0, 1, 0 }, new byte[0])]          // SOCKS4: closed
    [InlineData(new byte[] { 5, 0 }, new byte[0])]                                   // zero methods: closed
    [InlineData(new byte[] { 5, 1, 0 }, new byte[] { 5, 0xFF })]                     // no auth offered, no IP-auth package
    [InlineData(new byte[] { 0x47, 0x45, 0x54, 0x20, 0x2F }, new byte[0])]           // HTTP on the SOCKS port
    public async Task MalformedGreetings_AreClosed_OrRefused(byte[] greeting, byte[] expected)
    {
        ProxyFixture proxy = Proxy();
        using Socket socket = await ConnectAsync(proxy.SocksEndPoint);
        await socket.SendAsync(greeting, SocketFlags.None);
        Assert.Equal(expected, await ReadUntilClosedAsync(socket));
    }

    [Theory]
    [InlineData(new byte[] { 5, 2, 0, 1, 127, 0, 0, 1, 0, 80 }, 0x07)]     // BIND
    [InlineData(new byte[] { 5, 3, 0, 1, 127, 0, 0, 1, 0, 53 }, 0x07)]     // UDP ASSOCIATE
    [InlineData(new byte[] { 5, 1, 0, 7, 127, 0, 0, 1, 0, 80 }, 0x08)]     // unknown address type
    public async Task UnsupportedRequests_GetTheirReplyCode_ThenClose(byte[] request, byte reply)
    {
        ProxyFixture proxy = Proxy();
        byte[] answer = await HandshakeAsync(proxy.SocksEndPoint, "country-us", ProxyFixture.Key, request);
        Assert.Equal(reply, answer[3]);
    }

    [Fact]
    public async Task SlowGreeting_IsCutAtTheHeadDeadline()
    {
        ProxyFixture proxy = Proxy(o => o.Limits = new Engine.Connection.ConnectionLimits { RequestHeadTimeout = TimeSpan.FromMilliseconds(300) });
        using Socket socket = await ConnectAsync(proxy.SocksEndPoint);
        await socket.SendAsync(new byte[] { 5 }, SocketFlags.None);
        var clock = Stopwatch.StartNew();
        Assert.Empty(await ReadUntilClosedAsync(socket));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5));
        string[] log = await proxy.LogLinesAsync();
        Assert.Contains("code=REQUEST_TIMEOUT", log[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThroughUpstreamNodes_HttpAndSocks5()
    {
        FakeNode http = new();
        FakeNode socks = new(socks: true);
        _owned.Add(http);
        _owned.Add(socks);
        ProxyFixture proxy = Proxy(o => o.Nodes =
        [
            new NodeOptions { Id = "h", Type = NodeType.Http, Address = http.Address, Country = "de" },
            new NodeOptions { Id = "s", Type = NodeType.Socks5, Address = socks.Address, Country = "gb" },
        ]);
        foreach (string country in new[] { "de", "gb" })
        {
            (int exit, string output) = await CurlAsync("-s", "--max-time", "10", "-x",
                $"socks5h://country-{country}:{ProxyFixture.Key}@127.0.0.1:{proxy.SocksEndPoint.Port}", $"http://127.0.0.1:{_origin.Port}/small");
            Assert.Equal(0, exit);
            Assert.Equal("Hello, world!", output);
        }

        Assert.Equal(1, http.Connections);
        Assert.Equal(1, socks.Connections);
    }

    private static void ProxyReplyCodes(string[] log, string[] codes)
    {
        for (int i = 0; i < codes.Length; i++)
        {
            Assert.Contains("code=" + codes[i], log[i], StringComparison.Ordinal);
        }
    }
}
