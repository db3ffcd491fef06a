using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;

namespace Engine.Tests.State;

/// <summary>
/// docs/scale-out.md for real: two engine processes sharing one redis-server behind HAProxy in TCP
/// mode. Each request is a new connection, so round robin alternates the instances; the session
/// keeps its node whichever instance serves it, and both instances served (their Via names).
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class HaproxyScaleOutTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly List<IAsyncDisposable> _owned = [];

    /// <summary>The engine JSON of docs/scale-out.md (listener port and Redis filled in).</summary>
    internal static string EngineJson(string name, string redis) => $$"""
        { "Engine": {
            "Name": "{{name}}",
            "Listeners": [ { "Endpoint": "127.0.0.1:{PORT}", "Protocol": "http" } ],
            "Limits": { "ShutdownDrain": "00:00:01" },
            "Security": { "AllowPrivateTargets": true },
            "Packages": [ { "Id": "demo", "Key": "demo-key", "DefaultRules": "country-any" } ],
            "Nodes": [
              { "Id": "us1", "Type": "direct", "Country": "us", "Network": "res" },
              { "Id": "us2", "Type": "direct", "Country": "us", "Network": "res" },
              { "Id": "us3", "Type": "direct", "Country": "us", "Network": "res" },
              { "Id": "us4", "Type": "direct", "Country": "us", "Network": "res" } ],
            "State": { "Store": "redis", "Redis": "{{redis}}" } } }
        """;

    private async Task<T> Own<T>(Task<T> start) where T : IAsyncDisposable
    {
        T owned = await start;
        _owned.Add(owned);
        return owned;
    }

    [SkippableFact]
    public async Task Session_ThroughHaproxy_KeepsItsNodeOnBothInstances()
    {
        Tools.RequireNot(Haproxy.UnavailableReason is not null, Haproxy.UnavailableReason);
        RedisServer redis = await Own(RedisServer.StartAsync());
        EngineProcess a = await Own(EngineProcess.StartAsync(EngineJson("engine-a", redis.ConfigurationString)));
        EngineProcess b = await Own(EngineProcess.StartAsync(EngineJson("engine-b", redis.ConfigurationString)));
        Haproxy haproxy = await Own(Haproxy.StartAsync([a.EndPoint, b.EndPoint]));

        var nodes = new HashSet<string>();
        var instances = new HashSet<string>();
        for (int i = 0; i < 8; i++)
        {
            ProxyReply reply = await ProxyReply.GetAsync(haproxy.EndPoint, _origin.Port, "country-us-session-x1", "demo-key");
            Assert.True(reply.Status == 200, $"{reply.Status} {reply.Error} {reply.Body}\nA: {a.Output}\nB: {b.Output}");
            nodes.Add(reply.Node!);
            instances.Add(reply.Header("Via")!);
        }

        Assert.Single(nodes);
        Assert.Equal(2, instances.Count);
        Assert.Contains(instances, via => via.Contains("engine-a", StringComparison.Ordinal));
        Assert.Contains(instances, via => via.Contains("engine-b", StringComparison.Ordinal));
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
