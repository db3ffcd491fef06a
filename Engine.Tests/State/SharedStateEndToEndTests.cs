using Engine.Hosting;
using Engine.State;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;
using Engine.Upstream;

namespace Engine.Tests.State;

/// <summary>Two engine instances in process, each with its own RedisStateStore on one redis-server.</summary>
[Collection(RedisCollection.Name)]
public sealed class SharedStateEndToEndTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly List<IAsyncDisposable> _owned = [];

    private static NodeOptions Direct(string id) => new() { Id = id, Type = NodeType.Direct, Country = "us", Network = "res" };

    private async Task<ProxyFixture> Instance(string prefix)
    {
        RedisStateStore store = await redis.StoreAsync(prefix);
        _owned.Add(store);
        var proxy = new ProxyFixture(o =>
        {
            o.Nodes = [Direct("a"), Direct("b"), Direct("c"), Direct("d"), Direct("e")];
            o.State = store;
        });
        _owned.Add(proxy);
        return proxy;
    }

    [SkippableFact]
    public async Task Session_StartedOnA_ContinuesOnB_WithTheSameNode()
    {
        string prefix = RedisFixture.NewPrefix();
        ProxyFixture a = await Instance(prefix);
        ProxyFixture b = await Instance(prefix);
        foreach (string id in new[] { "x1", "x2", "x3" })
        {
            string user = $"country-us-session-{id}";
            ProxyReply first = await ProxyReply.GetAsync(a.EndPoint, _origin.Port, user, ProxyFixture.Key);
            Assert.Equal(200, first.Status);
            Assert.NotNull(first.Node);
            for (int i = 0; i < 4; i++)
            {
                ProxyFixture via = i % 2 == 0 ? b : a;
                Assert.Equal(first.Node, (await ProxyReply.GetAsync(via.EndPoint, _origin.Port, user, ProxyFixture.Key)).Node);
                Assert.Equal(first.Node, (await ProxyReply.ConnectAsync(via.EndPoint, _origin.Port, user, ProxyFixture.Key)).Node);
            }
        }

        ProxyReply mismatch = await ProxyReply.GetAsync(b.EndPoint, _origin.Port, "country-de-session-x1", ProxyFixture.Key);
        Assert.Equal(409, mismatch.Status);
        Assert.False(a.State.IsDegraded || b.State.IsDegraded);
    }

    [SkippableFact]
    public async Task Session_HeldByA_RotateRequestsCountedOnA_ContinueOnB()
    {
        string prefix = RedisFixture.NewPrefix();
        ProxyFixture a = await Instance(prefix);
        ProxyFixture b = await Instance(prefix);
        const string User = "country-us-session-y1-rotate-requests_4";
        ProxyReply first = await ProxyReply.GetAsync(a.EndPoint, _origin.Port, User, ProxyFixture.Key);
        Assert.Equal(200, first.Status);
        for (int i = 2; i <= 3; i++)
        {
            Assert.Equal(first.Node, (await ProxyReply.GetAsync(a.EndPoint, _origin.Port, User, ProxyFixture.Key)).Node);
        }

        // a served the session twice in a row: it holds it (near cache), requests 2 and 3 were counted there.
        Assert.Equal(1, ((Engine.Sessions.RedisSessionStore)a.State.Sessions).HeldLeases);
        Assert.Equal(first.Node, (await ProxyReply.GetAsync(b.EndPoint, _origin.Port, User, ProxyFixture.Key)).Node);
        ProxyReply fifth = await ProxyReply.GetAsync(a.EndPoint, _origin.Port, User, ProxyFixture.Key);
        Assert.Equal(200, fifth.Status);
        Assert.NotEqual(first.Node, fifth.Node);
        Assert.Equal(fifth.Node, (await ProxyReply.GetAsync(b.EndPoint, _origin.Port, User, ProxyFixture.Key)).Node);
        Assert.False(a.State.IsDegraded || b.State.IsDegraded);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }
}
