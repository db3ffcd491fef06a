using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Tunnel;
using Engine.Upstream;
using Engine.Transport;

namespace Engine.Tests.Upstream;

public class UpstreamConnectorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static async Task<byte[]> ReceiveAsync(Socket s, int count)
    {
        byte[] buffer = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("closed early");
            }

            got += n;
        }

        return buffer;
    }

    // A scripted SOCKS5 node: checks the greeting, optional RFC 1929 auth, records the request.
    private static async Task<string> FakeSocksNodeAsync(Socket node, string? user, string? pass, byte reply)
    {
        byte[] greeting = await ReceiveAsync(node, 3);
        Assert.Equal(5, greeting[0]);
        if (user is null)
        {
            await node.SendAsync(new byte[] { 5, 0 }, SocketFlags.None);
        }
        else
        {
            await node.SendAsync(new byte[] { 5, 2 }, SocketFlags.None);
            byte[] head = await ReceiveAsync(node, 2);
            string gotUser = Encoding.UTF8.GetString(await ReceiveAsync(node, head[1]));
            int passLength = (await ReceiveAsync(node, 1))[0];
            string gotPass = Encoding.UTF8.GetString(await ReceiveAsync(node, passLength));
            bool ok = gotUser == user && gotPass == pass;
            await node.SendAsync(new byte[] { 1, ok ? (byte)0 : (byte)1 }, SocketFlags.None);
            if (!ok)
            {
                return "auth-failed";
            }
        }

        byte[] request = await ReceiveAsync(node, 5);
        Assert.Equal(new byte[] { 5, 1, 0, 3 }, request[..4]);
        string host = Encoding.ASCII.GetString(await ReceiveAsync(node, request[4]));
        byte[] port = await ReceiveAsync(node, 2);
        await node.SendAsync(new byte[] { 5, reply, 0, 1, 10, 0, 0, 1, 0x1F, 0x90 }, SocketFlags.None);
        return $"{host}:{(port[0] << 8) | port[1]}";
    }

    [Fact]
    public async Task Socks5_DomainNamePassedThrough_Connects()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        Task<string> node = FakeSocksNodeAsync(pair.B, null, null, 0);
        ConnectStatus status = await Socks5Connector.HandshakeAsync(TcpSocket.Adopt(pair.A), "example.com", 443, null, null, default);
        Assert.Equal(ConnectStatus.Connected, status);
        Assert.Equal("example.com:443", await node.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Socks5_WithCredentials_AuthenticatesPerRfc1929()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        Task<string> node = FakeSocksNodeAsync(pair.B, "u1", "p1", 0);
        Assert.Equal(ConnectStatus.Connected, await Socks5Connector.HandshakeAsync(TcpSocket.Adopt(pair.A), "example.com", 80, "u1", "p1", default));
        await node.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Socks5_WrongCredentials_IsNodeAuthFailed()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        Task<string> node = FakeSocksNodeAsync(pair.B, "u1", "p1", 0);
        Assert.Equal(ConnectStatus.NodeAuthFailed, await Socks5Connector.HandshakeAsync(TcpSocket.Adopt(pair.A), "example.com", 80, "u1", "wrong", default));
        Assert.Equal("auth-failed", await node.WaitAsync(Timeout));
    }

    [Theory]
    [InlineData(1, nameof(ConnectStatus.NodeUnavailable))]
    [InlineData(2, nameof(ConnectStatus.NodeUnavailable))]
    [InlineData(4, nameof(ConnectStatus.Refused))]
    [InlineData(5, nameof(ConnectStatus.Refused))]
    [InlineData(6, nameof(ConnectStatus.TimedOut))]
    [InlineData(7, nameof(ConnectStatus.NodeCannotCarry))]
    public async Task Socks5_ReplyCodes_AreClassifiedNodeOrTarget(byte reply, string expected)
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        Task<string> node = FakeSocksNodeAsync(pair.B, null, null, reply);
        Assert.Equal(Enum.Parse<ConnectStatus>(expected), await Socks5Connector.HandshakeAsync(TcpSocket.Adopt(pair.A), "example.com", 80, null, null, default));
        await node.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Socks5_NodeClosesDuringGreeting_IsNodeUnavailable()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        pair.B.Shutdown(SocketShutdown.Both);
        Assert.Equal(ConnectStatus.NodeUnavailable, await Socks5Connector.HandshakeAsync(TcpSocket.Adopt(pair.A), "example.com", 80, null, null, default));
    }

    private static async Task<string> FakeHttpNodeAsync(Socket node, string answer)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            await node.ReceiveAsync(one, SocketFlags.None);
            head.Append((char)one[0]);
        }

        await node.SendAsync(Encoding.ASCII.GetBytes(answer), SocketFlags.None);
        return head.ToString();
    }

    [Fact]
    public async Task HttpProxy_Connect_SendsCredentials_AndKeepsEarlyBytes()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        Task<string> node = FakeHttpNodeAsync(pair.B, "HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-banner");
        (ConnectStatus status, NodeAnswer answer, ReadOnlyMemory<byte> early) =
            await HttpProxyConnector.ConnectAsync(TcpSocket.Adopt(pair.A), "example.com", 22, "Basic dTpw", default);
        string request = await node.WaitAsync(Timeout);

        Assert.Equal(ConnectStatus.Connected, status);
        Assert.Equal(200, answer.Status);
        Assert.False(answer.IsError);
        Assert.StartsWith("CONNECT example.com:22 HTTP/1.1\r\nHost: example.com:22\r\nProxy-Authorization: Basic dTpw\r\n", request, StringComparison.Ordinal);
        // The banner either arrived with the head (early) or is still on the socket: read what is missing.
        const string Banner = "SSH-2.0-banner";
        Assert.True(early.Length <= Banner.Length);
        string rest = Encoding.ASCII.GetString(early.Span) + Encoding.ASCII.GetString(await ReceiveAsync(pair.A, Banner.Length - early.Length).WaitAsync(Timeout));
        Assert.Equal(Banner, rest);
        Assert.Equal(0, pair.A.Available);
    }

    [Theory]
    [InlineData("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", nameof(ConnectStatus.NodeAuthFailed))]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_DNS_FAIL 0\r\n\r\n", nameof(ConnectStatus.NameNotResolved))]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 111\r\n\r\n", nameof(ConnectStatus.Refused))]
    [InlineData("HTTP/1.1 502 Bad Gateway\r\n\r\n", nameof(ConnectStatus.Refused))]
    [InlineData("HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Tinyproxy\"\r\n\r\n", nameof(ConnectStatus.NodeAuthFailed))]
    [InlineData("HTTP/1.1 500 Internal Server Error\r\nX-Squid-Error: ERR_CANNOT_FORWARD 0\r\n\r\n", nameof(ConnectStatus.NameNotResolved))]
    [InlineData("HTTP/1.1 500 Unable to connect\r\nServer: tinyproxy/1.11.1\r\n\r\n", nameof(ConnectStatus.Refused))]
    [InlineData("HTTP/1.1 504 Gateway Timeout\r\n\r\n", nameof(ConnectStatus.TimedOut))]
    // The node will not tunnel (spec/errors.md: a 405/501 to CONNECT is BUILD_CONNECT), or not to this port.
    [InlineData("HTTP/1.1 403 Forbidden\r\n\r\n", nameof(ConnectStatus.NodeCannotCarry))]
    [InlineData("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n\r\n", nameof(ConnectStatus.NodeCannotCarry))]
    [InlineData("HTTP/1.1 501 Not Implemented\r\n\r\n", nameof(ConnectStatus.NodeCannotCarry))]
    [InlineData("HTTP/1.1 500 Internal Server Error\r\n\r\n", nameof(ConnectStatus.NodeUnavailable))]
    [InlineData("SSH-2.0-not-http\r\n\r\n", nameof(ConnectStatus.NodeProtocolError))]
    public async Task HttpProxy_Answers_AreClassifiedNodeOrTarget(string answer, string expected)
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        Task<string> node = FakeHttpNodeAsync(pair.B, answer);
        (ConnectStatus status, _, _) = await HttpProxyConnector.ConnectAsync(TcpSocket.Adopt(pair.A), "example.com", 443, null, default);
        Assert.Equal(Enum.Parse<ConnectStatus>(expected), status);
        await node.WaitAsync(Timeout);
    }

    [Fact]
    public async Task HttpProxy_NodeCloses_IsNodeUnavailable()
    {
        using SocketPair pair = await SocketPair.CreateAsync();
        pair.B.Shutdown(SocketShutdown.Send);
        (ConnectStatus status, _, _) = await HttpProxyConnector.ConnectAsync(TcpSocket.Adopt(pair.A), "example.com", 443, null, default);
        Assert.Equal(ConnectStatus.NodeUnavailable, status);
    }
}
