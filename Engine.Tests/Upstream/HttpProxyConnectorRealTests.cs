using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Upstream;
using Engine.Transport;

namespace Engine.Tests.Upstream;

// What the real proxies answered to our CONNECT (Debian 12 packages; heads trimmed to the status line
// and the telling header):
//
// tinyproxy 1.11.1
//   open target ........... "HTTP/1.0 200 Connection established", then the target's bytes
//   no credentials ........ "HTTP/1.0 407 Proxy Authentication Required" + Proxy-Authenticate: Basic realm="Tinyproxy"
//   wrong credentials ..... "HTTP/1.0 401 Unauthorized" + WWW-Authenticate: Basic realm="Tinyproxy" (not a 407:
//                           the connector used to call this NodeUnavailable; it now maps a CONNECT's 401 to NodeAuthFailed)
//   target port closed .... "HTTP/1.1 500 Unable to connect"
//   name.invalid .......... "HTTP/1.1 500 Unable to connect" (log: "Could not retrieve address info"): the same
//                           answer as a refused port, so it can only be Refused, never NameNotResolved
//
// squid 5.7 (cache deny all, CONNECT to any port)
//   open target ........... "HTTP/1.1 200 Connection established", then the target's bytes
//   no / wrong credentials  "HTTP/1.1 407 Proxy Authentication Required" + X-Squid-Error: ERR_CACHE_ACCESS_DENIED 0
//   target port closed .... "HTTP/1.1 503 Service Unavailable" + X-Squid-Error: ERR_CONNECT_FAIL 111
//   name.invalid (NXDOMAIN) "HTTP/1.1 500 Internal Server Error" + X-Squid-Error: ERR_CANNOT_FORWARD 0, not
//                           ERR_DNS_FAIL: squid 5.7 loses the DNS error on CONNECT. The connector used to call this
//                           NodeUnavailable; it now maps ERR_CANNOT_FORWARD to NameNotResolved. A DNS timeout
//                           gives the same head after dns_timeout.
public class HttpProxyConnectorRealTests
{
    private const string User = "scraper";
    private const string Password = "s3cret:with-colon";

    private static async Task<(ConnectStatus Status, int Code, ReadOnlyMemory<byte> Early, Socket Node)> ConnectThroughAsync(
        System.Net.IPEndPoint node, string host, int port, string? proxyAuthorization)
    {
        Socket socket = await TunnelProbe.ConnectAsync(node);
        using var deadline = new CancellationTokenSource(TunnelProbe.Timeout);
        (ConnectStatus status, NodeAnswer answer, ReadOnlyMemory<byte> early) =
            await HttpProxyConnector.ConnectAsync(TcpSocket.Adopt(socket), host, port, proxyAuthorization, deadline.Token);
        return (status, answer.Status, early, socket);
    }

    private static void SkipUnlessHermeticDns() => Tools.RequireNot(LoopbackDns.UnavailableReason is not null, LoopbackDns.UnavailableReason);

    [SkippableFact]
    public async Task ConnectAsync_TinyproxyOpenTarget_TunnelCarriesBytesBothWays()
    {
        await using Tinyproxy proxy = await Tinyproxy.StartAsync();
        await using var target = new EchoTarget();

        (ConnectStatus status, int code, ReadOnlyMemory<byte> early, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, null);
        using (node)
        {
            Assert.Equal(ConnectStatus.Connected, status);
            Assert.Equal(200, code);
            await TunnelProbe.AssertCarriesBytesBothWaysAsync(node, early);
        }
    }

    [SkippableFact]
    public async Task ConnectAsync_TinyproxyRightCredentials_TunnelCarriesBytesBothWays()
    {
        await using Tinyproxy proxy = await Tinyproxy.StartAsync(User, "s3cret");
        await using var target = new EchoTarget();

        (ConnectStatus status, _, ReadOnlyMemory<byte> early, Socket node) =
            await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, TunnelProbe.Basic(User, "s3cret"));
        using (node)
        {
            Assert.Equal(ConnectStatus.Connected, status);
            await TunnelProbe.AssertCarriesBytesBothWaysAsync(node, early);
        }
    }

    [SkippableFact]
    public async Task ConnectAsync_TinyproxyWrongCredentials_NodeAuthFailed()
    {
        await using Tinyproxy proxy = await Tinyproxy.StartAsync(User, "s3cret");
        await using var target = new EchoTarget();

        (ConnectStatus status, int code, _, Socket node) =
            await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, TunnelProbe.Basic(User, "wrong"));
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeAuthFailed, status);
        Assert.Equal(401, code);
        Assert.Equal(0, target.Connections);
    }

    [SkippableFact]
    public async Task ConnectAsync_TinyproxyMissingCredentials_NodeAuthFailed()
    {
        await using Tinyproxy proxy = await Tinyproxy.StartAsync(User, "s3cret");
        await using var target = new EchoTarget();

        (ConnectStatus status, int code, _, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeAuthFailed, status);
        Assert.Equal(407, code);
    }

    [SkippableFact]
    public async Task ConnectAsync_TinyproxyTargetPortClosed_Refused()
    {
        await using Tinyproxy proxy = await Tinyproxy.StartAsync();

        (ConnectStatus status, int code, _, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", EchoTarget.ClosedPort(), null);
        node.Dispose();
        Assert.Equal(ConnectStatus.Refused, status);
        Assert.Equal(500, code);
    }

    [SkippableFact]
    public async Task ConnectAsync_TinyproxyUnresolvableHost_RefusedLikeAClosedPort()
    {
        SkipUnlessHermeticDns();
        await using Tinyproxy proxy = await Tinyproxy.StartAsync();

        (ConnectStatus status, int code, _, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "name.invalid", 443, null);
        node.Dispose();
        // tinyproxy says "500 Unable to connect" for both: target-side, but not which kind.
        Assert.Equal(ConnectStatus.Refused, status);
        Assert.Equal(500, code);
    }

    [SkippableFact]
    public async Task ConnectAsync_SquidOpenTarget_TunnelCarriesBytesBothWays()
    {
        await using Squid proxy = await Squid.StartAsync();
        await using var target = new EchoTarget();

        (ConnectStatus status, int code, ReadOnlyMemory<byte> early, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, null);
        using (node)
        {
            Assert.Equal(ConnectStatus.Connected, status);
            Assert.Equal(200, code);
            await TunnelProbe.AssertCarriesBytesBothWaysAsync(node, early);
        }
    }

    [SkippableFact]
    public async Task ConnectAsync_SquidRightCredentials_TunnelCarriesBytesBothWays()
    {
        Tools.RequireNot(Squid.CredentialsUnavailableReason is not null, Squid.CredentialsUnavailableReason);
        await using Squid proxy = await Squid.StartAsync(User, Password);
        await using var target = new EchoTarget();

        (ConnectStatus status, _, ReadOnlyMemory<byte> early, Socket node) =
            await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, TunnelProbe.Basic(User, Password));
        using (node)
        {
            Assert.Equal(ConnectStatus.Connected, status);
            await TunnelProbe.AssertCarriesBytesBothWaysAsync(node, early);
        }
    }

    [SkippableFact]
    public async Task ConnectAsync_SquidWrongCredentials_NodeAuthFailed()
    {
        Tools.RequireNot(Squid.CredentialsUnavailableReason is not null, Squid.CredentialsUnavailableReason);
        await using Squid proxy = await Squid.StartAsync(User, Password);
        await using var target = new EchoTarget();

        (ConnectStatus status, int code, _, Socket node) =
            await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, TunnelProbe.Basic(User, "wrong"));
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeAuthFailed, status);
        Assert.Equal(407, code);
        Assert.Equal(0, target.Connections);
    }

    [SkippableFact]
    public async Task ConnectAsync_SquidMissingCredentials_NodeAuthFailed()
    {
        Tools.RequireNot(Squid.CredentialsUnavailableReason is not null, Squid.CredentialsUnavailableReason);
        await using Squid proxy = await Squid.StartAsync(User, Password);
        await using var target = new EchoTarget();

        (ConnectStatus status, int code, _, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", target.Port, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeAuthFailed, status);
        Assert.Equal(407, code);
    }

    [SkippableFact]
    public async Task ConnectAsync_SquidTargetPortClosed_Refused()
    {
        await using Squid proxy = await Squid.StartAsync();

        (ConnectStatus status, int code, _, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "127.0.0.1", EchoTarget.ClosedPort(), null);
        node.Dispose();
        Assert.Equal(ConnectStatus.Refused, status);
        Assert.Equal(503, code);
    }

    [SkippableFact]
    public async Task ConnectAsync_SquidUnresolvableHost_NameNotResolved()
    {
        SkipUnlessHermeticDns();
        await using Squid proxy = await Squid.StartAsync();

        (ConnectStatus status, int code, _, Socket node) = await ConnectThroughAsync(proxy.EndPoint, "name.invalid", 443, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.NameNotResolved, status);
        Assert.Equal(500, code);
    }

    [Fact]
    public async Task ConnectAsync_NodeClosesImmediately_NodeUnavailable()
    {
        using Socket closingNode = TunnelProbe.StartClosingNode();

        (ConnectStatus status, int code, _, Socket node) =
            await ConnectThroughAsync((System.Net.IPEndPoint)closingNode.LocalEndPoint!, "127.0.0.1", 443, null);
        node.Dispose();
        Assert.Equal(ConnectStatus.NodeUnavailable, status);
        Assert.Equal(0, code);
    }
}
