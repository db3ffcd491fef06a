using System.Net;
using System.Net.Sockets;
using Engine.Targets;
using Engine.Transport;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

public class DirectConnectorTests
{
    private static DnsCache Dns(params string[] answer) => new(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1),
        resolve: (_, _) => Task.FromResult(answer.Select(IPAddress.Parse).ToArray()));

    private static DirectConnector Connector(DnsCache dns, bool allowPrivate, int[]? ports = null, string[]? blocked = null, int timeoutMs = 5000) =>
        new(dns, new TargetPolicy(allowPrivate, ports, blocked), TimeSpan.FromMilliseconds(timeoutMs));

    [Fact]
    public async Task ConnectAsync_ListeningTarget_Connects()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        ConnectResult result = await Connector(Dns("127.0.0.1"), allowPrivate: true).ConnectAsync("origin.test", port, default);

        Assert.Equal(ConnectStatus.Connected, result.Status);
        TcpSocket socket = result.Socket!;
        using Socket accepted = await listener.AcceptSocketAsync();
        await socket.SendAsync("x"u8.ToArray());
        var received = new byte[1];
        Assert.Equal(1, await accepted.ReceiveAsync(received));
        Assert.Equal((byte)'x', received[0]);
        socket.Close();
    }

    [Fact]
    public async Task ConnectAsync_NameResolvingToLoopback_IsDisallowedWhenPrivateTargetsAreOff()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        ConnectResult result = await Connector(Dns("127.0.0.1"), allowPrivate: false).ConnectAsync("rebind.test", port, default);

        Assert.Equal(ConnectStatus.Disallowed, result.Status);
        Assert.Equal(AddressClass.Loopback, result.AddressClass);
        Assert.Null(result.Socket);
    }

    [Fact]
    public async Task ConnectAsync_EveryAnswerForbidden_ReportsTheFirstAndNeverConnects()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        // A listener is up on the mapped loopback address: reaching it would be the bypass.
        ConnectResult result = await Connector(Dns("169.254.169.254", "::ffff:127.0.0.1"), allowPrivate: false).ConnectAsync("meta.test", port, default);

        Assert.Equal(ConnectStatus.Disallowed, result.Status);
        Assert.Equal(AddressClass.Metadata, result.AddressClass);
        Assert.False(listener.Pending());
    }

    [Theory]
    [InlineData(SocketError.TooManyOpenSockets, true, 1)]        // EMFILE/ENFILE: ours, and every address would meet it
    [InlineData(SocketError.NoBufferSpaceAvailable, true, 1)]    // ENOBUFS/ENOMEM
    [InlineData(SocketError.AddressFamilyNotSupported, false, 2)]   // this address only: the next is tried
    public async Task ConnectAsync_NoSocketCanBeMade_IsClassifiedAndNotThrown(SocketError error, bool outOfSockets, int attempts)
    {
        ConnectStatus expected = outOfSockets ? ConnectStatus.OutOfSockets : ConnectStatus.Refused;
        int made = 0;
        var connector = new DirectConnector(Dns("127.0.0.1", "127.0.0.2"), new TargetPolicy(true, null, null), TimeSpan.FromSeconds(5),
            openSocket: _ =>
            {
                made++;
                throw new SocketException((int)error);
            });

        ConnectResult result = await connector.ConnectAsync("origin.test", 9, default);

        Assert.Equal(expected, result.Status);
        Assert.Equal(error, result.SocketError);
        Assert.Null(result.Socket);
        Assert.Equal(attempts, made);
    }

    [Fact]
    public async Task ConnectAsync_ClosedPort_IsRefused()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        ConnectResult result = await Connector(Dns("127.0.0.1"), allowPrivate: true).ConnectAsync("closed.test", port, default);

        Assert.Equal(ConnectStatus.Refused, result.Status);
        Assert.Equal(SocketError.ConnectionRefused, result.SocketError);
    }

    [Fact]
    public async Task ConnectAsync_NxDomain_IsNameNotResolved()
    {
        var dns = new DnsCache(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1),
            resolve: (_, _) => throw new SocketException((int)SocketError.HostNotFound));
        ConnectResult result = await Connector(dns, allowPrivate: true).ConnectAsync("nope.invalid", 80, default);
        Assert.Equal(ConnectStatus.NameNotResolved, result.Status);
    }

    [Fact]
    public async Task ConnectAsync_SlowResolution_CountsAgainstTheConnectDeadline()
    {
        var never = new TaskCompletionSource<IPAddress[]>();
        var dns = new DnsCache(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), resolve: (_, _) => never.Task);
        ConnectResult result = await Connector(dns, allowPrivate: true, timeoutMs: 200).ConnectAsync("slow.test", 80, default)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ConnectStatus.TimedOut, result.Status);
    }

    [Fact]
    public async Task ConnectAsync_ShutdownDuringResolution_IsAborted()
    {
        var never = new TaskCompletionSource<IPAddress[]>();
        var dns = new DnsCache(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1), resolve: (_, _) => never.Task);
        using var shutdown = new CancellationTokenSource(100);
        ConnectResult result = await Connector(dns, allowPrivate: true).ConnectAsync("slow.test", 80, shutdown.Token)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ConnectStatus.Aborted, result.Status);
    }
}
