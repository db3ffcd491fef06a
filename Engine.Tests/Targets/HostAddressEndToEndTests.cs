using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Targets;

/// <summary>
/// Issue 19.2 end to end: a service listening on all of this host's addresses is not reachable
/// through the proxy by the host's name or by any of its interface addresses, over HTTP, CONNECT
/// and SOCKS5. Every target here is this machine: its name and its own interface addresses.
/// </summary>
public sealed class HostAddressEndToEndTests : IAsyncLifetime
{
    private readonly Socket _service = new(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
    private readonly CancellationTokenSource _stop = new();
    private int _accepted;
    private Task _accepting = Task.CompletedTask;

    private int Port => ((IPEndPoint)_service.LocalEndPoint!).Port;

    public Task InitializeAsync()
    {
        // "A service listening on 0.0.0.0": here on [::] dual-stack, so every local address reaches it.
        _service.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        _service.Listen(64);
        _accepting = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using Socket accepted = await _service.AcceptAsync(_stop.Token);
                    Interlocked.Increment(ref _accepted);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        _service.Dispose();
        await _accepting;
        _stop.Dispose();
    }

    /// <summary>The host name and every interface address (link-local ones with their scope dropped: they are refused by class anyway).</summary>
    public static TheoryData<string> HostTargets()
    {
        var data = new TheoryData<string> { Dns.GetHostName() };
        foreach (IPAddress address in NetworkInterface.GetAllNetworkInterfaces().SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address))
        {
            var copy = new IPAddress(address.GetAddressBytes());
            data.Add(copy.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{copy}]" : copy.ToString());
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(HostTargets))]
    public async Task HostNameAndInterfaceAddresses_AreRefused_OverHttpConnectAndSocks5(string host)
    {
        await using var proxy = new ProxyFixture(o =>
        {
            o.AllowPrivateTargets = false;
            o.Socks = true;
        });

        string get = await SendAsync(proxy.EndPoint, $"GET http://{host}:{Port}/ HTTP/1.1\r\nHost: {host}:{Port}\r\n{Auth()}Connection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403 ", get, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Error: DISALLOWED", get, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Detail: the target resolves to", get, StringComparison.Ordinal);

        string connect = await SendAsync(proxy.EndPoint, $"CONNECT {host}:{Port} HTTP/1.1\r\nHost: {host}:{Port}\r\n{Auth()}\r\n");
        Assert.StartsWith("HTTP/1.1 403 ", connect, StringComparison.Ordinal);

        byte reply = await Socks5ConnectAsync(proxy.SocksEndPoint, host.Trim('[', ']'), Port);
        Assert.Equal(0x02, reply);   // connection not allowed by ruleset (RFC 1928 §6)

        Assert.Equal(0, Volatile.Read(ref _accepted));
    }

    [Fact]
    public async Task Control_WithPrivateTargetsAllowed_TheHostNameReachesTheService()
    {
        await using var proxy = new ProxyFixture(o => o.AllowPrivateTargets = true);
        string host = Dns.GetHostName();

        await SendAsync(proxy.EndPoint, $"GET http://{host}:{Port}/ HTTP/1.1\r\nHost: {host}:{Port}\r\n{Auth()}Connection: close\r\n\r\n");

        Assert.True(Volatile.Read(ref _accepted) > 0, "the test service is reachable when the policy allows it, so the refusals above are the policy's");
    }

    private static string Auth() =>
        "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";

    private static async Task<string> SendAsync(IPEndPoint proxy, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        var text = new StringBuilder();
        byte[] buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }

            text.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }

        return text.ToString();
    }

    private static async Task<byte> Socks5ConnectAsync(IPEndPoint proxy, string host, int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.SendAsync(new byte[] { 5, 1, 2 }, SocketFlags.None);
        byte[] two = new byte[2];
        await socket.ReceiveAsync(two, SocketFlags.None, timeout.Token);
        byte[] user = Encoding.ASCII.GetBytes("country-us");
        byte[] key = Encoding.ASCII.GetBytes(ProxyFixture.Key);
        await socket.SendAsync((byte[])[1, (byte)user.Length, .. user, (byte)key.Length, .. key], SocketFlags.None);
        await socket.ReceiveAsync(two, SocketFlags.None, timeout.Token);
        Assert.Equal(0, two[1]);
        byte[] request = IPAddress.TryParse(host, out IPAddress? literal)
            ? [5, 1, 0, literal.AddressFamily == AddressFamily.InterNetwork ? (byte)1 : (byte)4, .. literal.GetAddressBytes(), (byte)(port >> 8), (byte)port]
            : [5, 1, 0, 3, (byte)host.Length, .. Encoding.ASCII.GetBytes(host), (byte)(port >> 8), (byte)port];
        await socket.SendAsync(request, SocketFlags.None);
        byte[] reply = new byte[4];
        await socket.ReceiveAsync(reply, SocketFlags.None, timeout.Token);
        return reply[1];
    }
}
