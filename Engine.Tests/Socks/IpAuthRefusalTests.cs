using System.Net;
using System.Net.Sockets;
using Engine.Auth;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Socks;

public sealed class IpAuthRefusalTests : IAsyncLifetime
{
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Socks = true;
            o.Packages.Clear();
            o.Packages.Add(new Package("office", "office-key", PackageStatus.Paused, ipAuth: [IPNetwork.Parse("127.0.0.0/8")], defaultRules: "country-us"));
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    // errors.md: "SOCKS5 listeners ... each code ... is logged with its CODE". A client whose IP
    // matches a paused IP-auth package is refused because the package is paused, not because it
    // sent no credentials: HTTP logs PACKAGE_PAUSED for the same client.
    [Fact]
    public async Task NoAuthGreeting_FromAPausedIpAuthPackage_IsLoggedAsPackagePaused()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.SocksEndPoint);
        await socket.SendAsync(new byte[] { 5, 1, 0 }, SocketFlags.None);
        byte[] buffer = new byte[16];
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new byte[] { 5, 0xFF }, buffer[..n]);
        string[] log = await _proxy.LogLinesAsync();
        Assert.True(log[0].Contains("code=PACKAGE_PAUSED", StringComparison.Ordinal), log[0]);
    }
}

public sealed class IpAuthWithoutSocks5Tests : IAsyncLifetime
{
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Socks = true;
            o.Packages.Clear();
            o.Packages.Add(new Package("office", "office-key", allowedProtocols: ProxyProtocols.Http | ProxyProtocols.Https,
                ipAuth: [IPNetwork.Parse("127.0.0.0/8")], defaultRules: "country-us"));
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    // configuration.md: "`AllowedProtocols` without `socks5` passes the credentials step and is
    // answered 0x02 at the request", and "The access log line carries the CODE either way".
    [Fact]
    public async Task NoAuthGreeting_FromAnIpAuthPackageWithoutSocks5_IsAnswered0x02AtTheRequest()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.SocksEndPoint);
        await socket.SendAsync(new byte[] { 5, 1, 0 }, SocketFlags.None);
        byte[] buffer = new byte[16];
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new byte[] { 5, 0 }, buffer[..n]);
        await socket.SendAsync(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, 1, 187 }, SocketFlags.None);
        n = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new byte[] { 5, 2, 0, 1, 0, 0, 0, 0, 0, 0 }, buffer[..n]);
        string[] log = await _proxy.LogLinesAsync();
        Assert.True(log[0].Contains("code=DISALLOWED", StringComparison.Ordinal), log[0]);
    }
}
