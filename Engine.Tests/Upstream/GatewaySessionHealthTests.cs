using System.Text;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>
/// A gateway is one node with many exits inside: a failed provider session moves the sticky
/// session to a new provider session on the same gateway (or retries the same one under
/// onerror-retry), and does not eject the gateway.
/// </summary>
public sealed class GatewaySessionHealthTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly FakeNode _provider = new();
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Health = NodeHealthPolicy.Default(TimeProvider.System);   // 3 failures eject a listed node
            o.Nodes = [new NodeOptions
            {
                Id = "gw", Type = NodeType.Http, Address = _provider.Address,
                Gateway = new GatewayOptions { UsernameTemplate = "acct[-session-{session}]", Password = "p" },
            }];
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _provider.DisposeAsync();
        await _origin.DisposeAsync();
    }

    private static string Username(string head)
    {
        string line = head.Split("\r\n").First(l => l.StartsWith("Proxy-Authorization: Basic ", StringComparison.Ordinal));
        string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(line["Proxy-Authorization: Basic ".Length..]));
        return decoded[..decoded.IndexOf(':', StringComparison.Ordinal)];
    }

    [Fact]
    public async Task AFailedProviderSession_IsReplacedOnTheSameGateway_WhichStaysIn()
    {
        int seen = 0;
        _provider.DropWhen = _ => Interlocked.Increment(ref seen) == 1;   // the first exit dies

        ProxyReply first = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "session-job1", ProxyFixture.Key);
        Assert.Equal(200, first.Status);
        Assert.Equal("2", first.Header("X-Proxy-Attempts"));
        string[] users = [.. _provider.Heads.Select(Username)];
        Assert.Equal(2, users.Length);
        Assert.NotEqual(users[0], users[1]);   // a new provider session, same gateway
        Assert.StartsWith("acct-session-", users[1], StringComparison.Ordinal);

        // The session now sticks to the new provider session.
        Assert.Equal(200, (await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "session-job1", ProxyFixture.Key)).Status);
        Assert.Equal(users[1], Username(_provider.Heads.Last()));

        Node gateway = _proxy.Routing.Pool.Find("gw")!;
        Assert.True(gateway.IsAvailable(TimeProvider.System.GetTimestamp()));
        Assert.Equal(0, gateway.ConsecutiveFailures);
    }

    [Fact]
    public async Task OnErrorRetry_RetriesTheSameProviderSession()
    {
        int seen = 0;
        _provider.DropWhen = _ => Interlocked.Increment(ref seen) == 1;

        ProxyReply reply = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "session-job2-onerror-retry_1", ProxyFixture.Key);
        Assert.Equal(200, reply.Status);
        string[] users = [.. _provider.Heads.Select(Username)];
        Assert.Equal(2, users.Length);
        Assert.Equal(users[0], users[1]);
    }

    [Fact]
    public async Task FailuresAcrossSessions_EjectTheGatewayOnlyAtItsOwnThreshold()
    {
        _provider.DropWhen = _ => true;   // the provider itself is down
        ProxyReply reply = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "session-job3", ProxyFixture.Key);
        Assert.Equal(502, reply.Status);
        Node gateway = _proxy.Routing.Pool.Find("gw")!;
        int failures = gateway.ConsecutiveFailures;
        Assert.True(failures < GatewayPresets.DefaultFailuresToEject, $"{failures} failures after one request");
        Assert.True(gateway.IsAvailable(TimeProvider.System.GetTimestamp()));   // a listed node would be out after 3

        while (gateway.IsAvailable(TimeProvider.System.GetTimestamp()))
        {
            await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-any", ProxyFixture.Key);
        }

        Assert.Equal(GatewayPresets.DefaultFailuresToEject, gateway.ConsecutiveFailures);
    }
}
