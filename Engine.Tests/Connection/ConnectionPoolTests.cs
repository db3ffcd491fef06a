using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.Connection;

/// <summary>
/// Connection objects serve one client after another (ConnectionPool): the next client must find
/// nothing of the last one — no package, no rules, no credentials — and a tunnel must give its
/// connection object back at the handoff while it keeps running.
/// </summary>
public sealed class ConnectionPoolTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly EchoTarget _echo = new();
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _echo.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task ReusedConnection_NextClientWithoutCredentials_Gets407_NotTheLastClientsPackage()
    {
        ProxyReply first = await ProxyReply.GetAsync(_proxy.EndPoint, _origin.Port, "country-us-session-first1", ProxyFixture.Key);
        Assert.Equal(200, first.Status);
        // The loop ends (and the object is back) before the engine closes the socket the client read to its end.
        Assert.Equal(1, _proxy.Server.FreeConnectionObjects);

        string second = await SendRawAsync($"GET http://127.0.0.1:{_origin.Port}/small HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 407", second, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Error: ERR_AUTH_REQUIRED", second, StringComparison.Ordinal);
        Assert.Equal(1, _proxy.Server.FreeConnectionObjects);   // the same object served both: none was made for the second

        // A third client forwards through the exchange the first one made: it answers this client, not that one.
        ProxyReply third = await ProxyReply.GetAsync(_proxy.EndPoint, _origin.Port, "country-us-session-third3", ProxyFixture.Key);
        Assert.Equal(200, third.Status);
        Assert.Equal("Hello, world!", third.Body);
        Assert.Equal(1, _proxy.Server.FreeConnectionObjects);

        string[] log = await _proxy.LogLinesAsync(3);
        Assert.Contains("pkg=demo rules=country-us-session-first1 ", log[0], StringComparison.Ordinal);
        Assert.DoesNotContain("pkg=demo", log[1], StringComparison.Ordinal);
        Assert.DoesNotContain("first1", log[1], StringComparison.Ordinal);
        Assert.Contains("pkg=demo rules=country-us-session-third3 ", log[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tunnel_GivesItsConnectionObjectBack_AtTheHandoff_AndKeepsRelaying()
    {
        using var tunnel = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await tunnel.ConnectAsync(_proxy.EndPoint);
        string auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us-session-tunnel1:" + ProxyFixture.Key));
        await tunnel.SendAsync(Encoding.ASCII.GetBytes(
            $"CONNECT 127.0.0.1:{_echo.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_echo.Port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"), SocketFlags.None);
        string opened = await SocketText.ReceiveUntilAsync(tunnel, until: Encoding.ASCII.GetString(EchoTarget.Greeting));
        Assert.StartsWith("HTTP/1.1 200", opened, StringComparison.Ordinal);
        // The greeting came through the relay, which starts only after the connection object went back.
        Assert.Equal(1, _proxy.Server.FreeConnectionObjects);

        // Another client is served by that object while the tunnel runs.
        ProxyReply other = await ProxyReply.GetAsync(_proxy.EndPoint, _origin.Port, "country-us-session-other2", ProxyFixture.Key);
        Assert.Equal(200, other.Status);
        Assert.Equal(1, _proxy.Server.FreeConnectionObjects);

        await tunnel.SendAsync(Encoding.ASCII.GetBytes("still-here"), SocketFlags.None);
        Assert.Equal("still-here", await SocketText.ReceiveUntilAsync(tunnel, until: "still-here"));
        tunnel.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await tunnel.ReceiveAsync(new byte[16], SocketFlags.None));

        string[] log = await _proxy.LogLinesAsync(2);
        Assert.Equal(2, log.Length);
        string get = Assert.Single(log, l => l.Contains("method=GET", StringComparison.Ordinal));
        string connect = Assert.Single(log, l => l.Contains("method=CONNECT", StringComparison.Ordinal));
        Assert.Contains("rules=country-us-session-other2 ", get, StringComparison.Ordinal);
        Assert.Contains("rules=country-us-session-tunnel1 ", connect, StringComparison.Ordinal);
        Assert.Contains($"target=127.0.0.1:{_echo.Port} ", connect, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EndedTunnel_GivesItsHandoffBack_TheNextTunnelReusesIt_AndLogsOnlyItsOwnLine()
    {
        Assert.Equal(0, _proxy.Server.FreeTunnelObjects);
        await RunTunnelAsync("country-us-session-abcdefghijklmnopqrstuvwxyz0123456789first1", "first-tunnel-bytes");
        await WaitForAsync(() => _proxy.Server.FreeTunnelObjects == 1);

        await RunTunnelAsync("country-us-session-s2", "x");
        await WaitForAsync(() => _proxy.Server.FreeTunnelObjects == 1 && _proxy.Server.OpenConnections == 0);

        string[] log = await _proxy.LogLinesAsync(2);
        Assert.Equal(2, log.Length);
        Assert.Contains("rules=country-us-session-abcdefghijklmnopqrstuvwxyz0123456789first1 ", log[0], StringComparison.Ordinal);
        Assert.Contains("rules=country-us-session-s2 ", log[1], StringComparison.Ordinal);   // its own rules only, nothing of the longer line before it
        Assert.Contains(" in=1 ", log[1], StringComparison.Ordinal);
        Assert.Equal(0, _proxy.Services.Limiter.InFlight("demo"));
    }

    private async Task RunTunnelAsync(string rules, string payload)
    {
        using var tunnel = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await tunnel.ConnectAsync(_proxy.EndPoint);
        string auth = Convert.ToBase64String(Encoding.ASCII.GetBytes(rules + ":" + ProxyFixture.Key));
        await tunnel.SendAsync(Encoding.ASCII.GetBytes(
            $"CONNECT 127.0.0.1:{_echo.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_echo.Port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"), SocketFlags.None);
        string opened = await SocketText.ReceiveUntilAsync(tunnel, until: Encoding.ASCII.GetString(EchoTarget.Greeting));
        Assert.StartsWith("HTTP/1.1 200", opened, StringComparison.Ordinal);
        await tunnel.SendAsync(Encoding.ASCII.GetBytes(payload), SocketFlags.None);
        Assert.Equal(payload, await SocketText.ReceiveUntilAsync(tunnel, until: payload));
        tunnel.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await tunnel.ReceiveAsync(new byte[16], SocketFlags.None));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(10), "the tunnel's end did not come");
            await Task.Delay(10);
        }
    }

    private async Task<string> SendRawAsync(string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        return await SocketText.ReceiveUntilAsync(socket, until: null);
    }
}
