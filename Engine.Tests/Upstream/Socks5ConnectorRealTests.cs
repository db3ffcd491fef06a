using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Upstream;
using Engine.Transport;

namespace Engine.Tests.Upstream;

// What the real SOCKS5 servers answered (Debian 12 packages; bytes in hex):
//
// microsocks 1.0.3
//   greeting, no auth configured ........ 05 00
//   greeting offering 00 only, auth on .. 05 FF, then close                      -> NodeAuthFailed
//   RFC 1929 right / wrong password ..... 01 00 / 01 02, then close on wrong       -> NodeAuthFailed
//   open target ......................... 05 00 00 01 00000000 0000 (BND zeros), then the target's bytes
//   target port closed .................. 05 05 00 01 00000000 0000                -> Refused
//   name.invalid (NXDOMAIN) ............. 05 01 00 01 00000000 0000: "general failure", the reply it also
//                                         gives for its own faults, so this stays NodeUnavailable; the engine
//                                         cannot tell a bad name through microsocks
//
// dante 1.4.2 (socksmethod none)
//   greeting ............................ 05 00
//   greeting offering 02 only ........... 05 FF                                    -> NodeAuthFailed
//   open target ......................... 05 00 00 01 7F000001 <port> (BND = its 127.0.0.1 side), then the target's bytes
//   target port closed .................. 05 05 00 01 7F000001 <port>              -> Refused
//   name.invalid (NXDOMAIN) ............. 05 04 00 03 0C "name.invalid" 0050: "host unreachable", which it
//                                         also answers for a real unreachable host, so it stays Refused (target-side)
public class Socks5ConnectorRealTests
{
    private const string User = "scraper";
    private const string Password = "s3cret";

    private static async Task<(ConnectStatus Status, Socket Node)> HandshakeThroughAsync(
        System.Net.IPEndPoint node, string host, int port, string? user, string? password)
    {
        Socket socket = await TunnelProbe.ConnectAsync(node);
        using var deadline = new CancellationTokenSource(TunnelProbe.Timeout);
        ConnectStatus status = await Socks5Connector.HandshakeAsync(TcpSocket.Adopt(socket), host, port, user, password, deadline.Token);
        return (status, socket);
    }

    private static void SkipUnlessHermeticDns() => Tools.RequireNot(LoopbackDns.UnavailableReason is not null, LoopbackDns.UnavailableReason);

    [SkippableFact]
    public async Task HandshakeAsync_MicrosocksOpenTarget_TunnelCarriesBytesBothWays()
    {
        await using Microsocks proxy = await Microsocks.StartAsync();
        await using var target = new EchoTarget();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, null, null);
        using (node)
        {
            Assert.Equal(ConnectStatus.Connected, status);
            // The whole reply was consumed: the next byte on the socket is the target's.
            await TunnelProbe.AssertCarriesBytesBothWaysAsync(node, ReadOnlyMemory<byte>.Empty);
        }
    }

    [SkippableFact]
    public async Task HandshakeAsync_MicrosocksRightCredentials_TunnelCarriesBytesBothWays()
    {
        await using Microsocks proxy = await Microsocks.StartAsync(User, Password);
        await using var target = new EchoTarget();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, User, Password);
        using (node)
        {
            Assert.Equal(ConnectStatus.Connected, status);
            await TunnelProbe.AssertCarriesBytesBothWaysAsync(node, ReadOnlyMemory<byte>.Empty);
        }
    }

    [SkippableFact]
    public async Task HandshakeAsync_MicrosocksWrongCredentials_NodeAuthFailed()
    {
        await using Microsocks proxy = await Microsocks.StartAsync(User, Password);
        await using var target = new EchoTarget();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, User, "wrong");
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeAuthFailed, status);
        Assert.Equal(0, target.Connections);
    }

    [SkippableFact]
    public async Task HandshakeAsync_MicrosocksMissingCredentials_NodeAuthFailed()
    {
        await using Microsocks proxy = await Microsocks.StartAsync(User, Password);
        await using var target = new EchoTarget();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, null, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeAuthFailed, status);
        Assert.Equal(0, target.Connections);
    }

    [SkippableFact]
    public async Task HandshakeAsync_MicrosocksTargetPortClosed_Refused()
    {
        await using Microsocks proxy = await Microsocks.StartAsync();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", EchoTarget.ClosedPort(), null, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.Refused, status);
    }

    [SkippableFact]
    public async Task HandshakeAsync_MicrosocksUnresolvableHost_NodeUnavailableFromGeneralFailure()
    {
        SkipUnlessHermeticDns();
        await using Microsocks proxy = await Microsocks.StartAsync();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "name.invalid", 443, null, null);
        node.Dispose();
        // Reply 0x01 (general failure): microsocks does not say the name was at fault.
        Assert.Equal(ConnectStatus.NodeUnavailable, status);
    }

    [SkippableFact]
    public async Task HandshakeAsync_DanteOpenTarget_TunnelCarriesBytesBothWays()
    {
        await using Dante proxy = await Dante.StartAsync();
        await using var target = new EchoTarget();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, null, null);
        using (node)
        {
            Assert.Equal(ConnectStatus.Connected, status);
            await TunnelProbe.AssertCarriesBytesBothWaysAsync(node, ReadOnlyMemory<byte>.Empty);
        }
    }

    [SkippableFact]
    public async Task HandshakeAsync_DanteOfferedOnlyCredentials_NodeAuthFailed()
    {
        await using Dante proxy = await Dante.StartAsync();
        await using var target = new EchoTarget();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, User, Password);
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeAuthFailed, status);
    }

    [SkippableFact]
    public async Task HandshakeAsync_DanteTargetPortClosed_Refused()
    {
        await using Dante proxy = await Dante.StartAsync();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "127.0.0.1", EchoTarget.ClosedPort(), null, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.Refused, status);
    }

    [SkippableFact]
    public async Task HandshakeAsync_DanteUnresolvableHost_RefusedFromHostUnreachable()
    {
        SkipUnlessHermeticDns();
        await using Dante proxy = await Dante.StartAsync();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync(proxy.EndPoint, "name.invalid", 443, null, null);
        node.Dispose();
        // Reply 0x04 (host unreachable) with ATYP 3 echoing the name: target-side, but not which kind.
        Assert.Equal(ConnectStatus.Refused, status);
    }

    [Fact]
    public async Task HandshakeAsync_NodeClosesImmediately_NodeUnavailable()
    {
        using Socket closingNode = TunnelProbe.StartClosingNode();

        (ConnectStatus status, Socket node) = await HandshakeThroughAsync((System.Net.IPEndPoint)closingNode.LocalEndPoint!, "127.0.0.1", 443, null, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeUnavailable, status);
    }
}
