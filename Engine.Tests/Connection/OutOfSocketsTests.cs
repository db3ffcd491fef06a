using System.Net.Sockets;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;
using Engine.Transport;

namespace Engine.Tests.Connection;

/// <summary>
/// The engine cannot open an outbound socket (out of descriptors or socket memory): the client
/// gets 503 OVERLOADED with a Retry-After — the engine's capacity, named as such — instead of a
/// 500 from an exception, the node is not blamed, and the next request after the pressure is gone
/// goes through.
/// </summary>
public sealed class OutOfSocketsTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private ProxyFixture _proxy = null!;
    private volatile bool _exhausted;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o => o.OpenSocket = family => _exhausted
            ? throw new SocketException((int)SocketError.TooManyOpenSockets)
            : TcpSocket.Create(family));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task NoSocketForTheTarget_Is503Overloaded_NodeNotBlamed_ThenServes(bool connect)
    {
        _exhausted = true;
        ProxyReply refused = connect
            ? await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key)
            : await ProxyReply.GetAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key);

        Assert.Equal(503, refused.Status);
        Assert.Equal("OVERLOADED", refused.Error);
        Assert.NotNull(refused.Header("Retry-After"));
        Engine.Upstream.Node node = _proxy.Routing.Pool.Nodes[0];
        Assert.Equal(0, node.ConsecutiveFailures);   // the engine's own limit, not the node's failure

        _exhausted = false;
        ProxyReply served = connect
            ? await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key)
            : await ProxyReply.GetAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key);
        Assert.Equal(200, served.Status);

        string line = (await _proxy.LogLinesAsync(2))[0];
        Assert.Contains("code=OVERLOADED", line, StringComparison.Ordinal);
        Assert.Contains(" ts=RC", line, StringComparison.Ordinal);   // a resource ran out, while connecting
    }
}
