using System.Net.Sockets;
using System.Text;
using Engine.Auth;
using Engine.Limits;
using Engine.Tests.Fixtures;
using Engine.Upstream;

namespace Engine.Tests.Connection;

/// <summary>
/// A tunnel runs after the connection object that opened it is gone (TunnelHandoff): everything
/// the request held must be held by the tunnel until it ends, and given back then.
/// </summary>
public sealed class TunnelHandoffTests : IAsyncLifetime
{
    private readonly EchoTarget _target = new();
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Packages.Clear();
            o.Packages.Add(new Package("p", "p-key", defaultRules: "country-any", limits: new PackageLimits(null, 5, null, null)));
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _target.DisposeAsync();
    }

    [Fact]
    public async Task HeldTunnel_KeepsItsSlotAndNode_UntilItEnds_ThenLogsOneLineWithItsBytesAndRules()
    {
        Node node = _proxy.Routing.Pool.Nodes[0];
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(_proxy.EndPoint);
        string auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us-session-held1:p-key"));
        await client.SendAsync(Encoding.ASCII.GetBytes(
            $"CONNECT 127.0.0.1:{_target.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_target.Port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"), SocketFlags.None);
        string answer = await SocketText.ReceiveUntilAsync(client, until: Encoding.ASCII.GetString(EchoTarget.Greeting));
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.EndsWith(Encoding.ASCII.GetString(EchoTarget.Greeting), answer, StringComparison.Ordinal);

        // The relay runs: bytes go both ways through it while the connection object is gone.
        byte[] ping = Encoding.ASCII.GetBytes("ping-through-the-tunnel");
        await client.SendAsync(ping, SocketFlags.None);
        Assert.Equal("ping-through-the-tunnel", await SocketText.ReceiveUntilAsync(client, until: "ping-through-the-tunnel"));

        Assert.Equal(1, _proxy.Services.Limiter.InFlight("p"));
        Assert.Equal(1, node.InFlight);
        Assert.Equal(0, _proxy.AccessLog.Written);   // the line belongs to the tunnel's end
        Assert.Equal(1, _proxy.Server.OpenConnections);   // handed over, not ended: the listener's slot is still taken

        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await client.ReceiveAsync(new byte[16], SocketFlags.None));   // the target's FIN came back through

        string[] log = await _proxy.LogLinesAsync();
        string line = Assert.Single(log);
        Assert.Contains("method=CONNECT", line, StringComparison.Ordinal);
        Assert.Contains($"target=127.0.0.1:{_target.Port}", line, StringComparison.Ordinal);
        Assert.Contains("status=200", line, StringComparison.Ordinal);
        Assert.Contains("pkg=p", line, StringComparison.Ordinal);
        Assert.Contains("rules=country-us-session-held1", line, StringComparison.Ordinal);
        long bytesIn = long.Parse(System.Text.RegularExpressions.Regex.Match(line, @" in=(\d+) ").Groups[1].Value);
        long bytesOut = long.Parse(System.Text.RegularExpressions.Regex.Match(line, @" out=(\d+) ").Groups[1].Value);
        Assert.InRange(bytesIn, ping.Length, ping.Length + 256);   // the echo's bytes (and at most the CONNECT head)
        Assert.InRange(bytesOut, EchoTarget.Greeting.Length + ping.Length, EchoTarget.Greeting.Length + ping.Length + 256);
        Assert.Equal(0, _proxy.Services.Limiter.InFlight("p"));
        Assert.Equal(0, node.InFlight);

        // The relay's end calls the listener back, which ends the connection: its slot comes back.
        var ending = System.Diagnostics.Stopwatch.StartNew();
        while (_proxy.Server.OpenConnections != 0)
        {
            Assert.True(ending.Elapsed < TimeSpan.FromSeconds(10), "the connection was not ended with its tunnel");
            await Task.Delay(10);
        }
    }
}
