using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;
using Engine.Tests.State;

namespace Engine.Tests.Connection;

/// <summary>
/// Listeners behind an L4 load balancer: every connection starts with a PROXY protocol header and
/// the address in it is the client's for IP allowlists, the access log and the rest. Crafted
/// headers from the test (so the claimed address can differ from loopback), then real HAProxy with
/// <c>send-proxy-v2</c> in front of a real engine process.
/// </summary>
public sealed class ProxyProtocolEndToEndTests : IAsyncDisposable
{
    private readonly TestOrigin _origin = new();

    private static byte[] V1(string source, int port) => Encoding.ASCII.GetBytes($"PROXY TCP4 {source} 127.0.0.1 {port} 8080\r\n");

    private static byte[] V2(IPAddress source, int port) =>
    [
        0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C,
        .. source.GetAddressBytes(), 127, 0, 0, 1, (byte)(port >> 8), (byte)port, 0x1F, 0x90,
    ];

    private string Get(string user, string key) =>
        $"GET http://127.0.0.1:{_origin.Port}/small HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n" +
        $"Proxy-Authorization: Basic {Convert.ToBase64String(Encoding.ASCII.GetBytes(user + ":" + key))}\r\nConnection: close\r\n\r\n";

    private static async Task<string> ExchangeAsync(IPEndPoint proxy, byte[] bytes)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        await socket.SendAsync(bytes.AsMemory(), SocketFlags.None);
        var received = new MemoryStream();
        byte[] buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n;
        while ((n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, timeout.Token)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }

    [Fact]
    public async Task V1Header_ItsAddressPassesTheAllowlist_AndIsLogged()
    {
        // Package "elsewhere" only admits 192.0.2.0/24: loopback alone would be refused.
        await using var proxy = new ProxyFixture(o => o.ProxyProtocol = true);
        string reply = await ExchangeAsync(proxy.EndPoint, [.. V1("192.0.2.9", 40000), .. Encoding.ASCII.GetBytes(Get("country-us", "elsewhere-key"))]);
        Assert.StartsWith("HTTP/1.1 200", reply, StringComparison.Ordinal);
        string[] log = await proxy.LogLinesAsync();
        Assert.Contains("client=192.0.2.9:40000 ", log[^1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task V2Header_AnAddressOutsideTheAllowlist_Is407IpNotAllowed()
    {
        await using var proxy = new ProxyFixture(o => o.ProxyProtocol = true);
        string reply = await ExchangeAsync(proxy.EndPoint, [.. V2(IPAddress.Parse("203.0.113.7"), 51000), .. Encoding.ASCII.GetBytes(Get("country-us", "elsewhere-key"))]);
        Assert.StartsWith("HTTP/1.1 407", reply, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Error: IP_NOT_ALLOWED", reply, StringComparison.Ordinal);
        string[] log = await proxy.LogLinesAsync();
        Assert.Contains("client=203.0.113.7:51000 ", log[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET http://example.com/ HTTP/1.1\r\n\r\n")]           // no header: someone reached the port directly
    [InlineData("PROXY TCP4 192.0.2.9 127.0.0.1 0080 8080\r\n")]       // malformed header
    public async Task NoValidHeader_ClosedUnanswered(string first)
    {
        await using var proxy = new ProxyFixture(o => o.ProxyProtocol = true);
        string reply = await ExchangeAsync(proxy.EndPoint, Encoding.ASCII.GetBytes(first));
        Assert.Equal(string.Empty, reply);
        Assert.Empty(await proxy.LogLinesAsync(0));
    }

    [Fact]
    public async Task ListenerWithoutTheOption_TreatsAHeaderAsABadRequest()
    {
        await using var proxy = new ProxyFixture();
        string reply = await ExchangeAsync(proxy.EndPoint, [.. V1("192.0.2.9", 40000), .. Encoding.ASCII.GetBytes(Get("country-us", "elsewhere-key"))]);
        Assert.StartsWith("HTTP/1.1 400", reply, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task RealHaproxy_SendProxyV2_TheEngineSeesTheClientsOwnPort()
    {
        Tools.RequireNot(Haproxy.UnavailableReason is not null, Haproxy.UnavailableReason);
        await using EngineProcess engine = await EngineProcess.StartAsync("""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http", "ProxyProtocol": true } ],
                "Security": { "AllowPrivateTargets": true },
                "Packages": [ { "Id": "demo", "Key": "demo-key", "DefaultRules": "country-any" } ],
                "Nodes": [ { "Id": "local", "Type": "direct", "Country": "us" } ] } }
            """);
        await using Haproxy haproxy = await Haproxy.StartAsync([engine.EndPoint], sendProxy: true);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(haproxy.EndPoint);
        int clientPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        await socket.SendAsync(Encoding.ASCII.GetBytes(Get("country-us", "demo-key")).AsMemory(), SocketFlags.None);
        byte[] buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, timeout.Token);
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);

        // HAProxy connects to the engine from a port of its own; the log must show ours.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!engine.Output.Contains($"\"client\":\"127.0.0.1:{clientPort}\"", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50);
        }

        Assert.Contains($"\"client\":\"127.0.0.1:{clientPort}\"", engine.Output, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync() => await _origin.DisposeAsync();
}
