using System.Diagnostics;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Hosting;
using Engine.Limits;
using Engine.State;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;
using Engine.Upstream;

namespace Engine.Tests.State;

/// <summary>
/// Two engine instances (in process) on one redis-server: a global rate limit and a traffic cap
/// hold across them; Redis killed mid-test leaves requests served and the degraded metric set;
/// Redis back makes the limits shared again.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class SharedLimitsEndToEndTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly TestOrigin _origin = new();
    private readonly List<IAsyncDisposable> _owned = [];
    private RedisServer? _redis;

    public async Task InitializeAsync()
    {
        if (RedisServer.UnavailableReason is null)
        {
            _redis = await RedisServer.StartAsync();
        }
    }

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    private async Task<(ProxyFixture Proxy, RedisStateStore Store)> Instance(string prefix, Package package, EngineMetrics? metrics = null, TimeSpan? timeout = null)
    {
        Tools.RequireNot(_redis is null, RedisServer.UnavailableReason);
        RedisStateStore store = await RedisFixture.CreateAsync(_redis!, prefix, timeout: timeout);
        _owned.Add(store);
        var proxy = new ProxyFixture(o =>
        {
            o.Nodes = [new NodeOptions { Id = "a", Type = NodeType.Direct, Country = "us" }];
            o.Packages.Clear();
            o.Packages.Add(package);
            o.State = store;
            o.Metrics = metrics;
        });
        _owned.Add(proxy);
        return (proxy, store);
    }

    private static Package Limited(int? rps = null, long? traffic = null) =>
        new("p", "p-key", defaultRules: "country-any", limits: new PackageLimits(rps, null, traffic, null));

    private Task<ProxyReply> Get(ProxyFixture proxy, string path = "/small") =>
        ProxyReply.GetAsync(proxy.EndPoint, _origin.Port, "country-us", "p-key", path);

    private static async Task Eventually(Func<bool> condition, TimeSpan limit, Func<string>? state = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < limit)
        {
            await Task.Delay(20);
        }

        Assert.True(condition(), $"not within {limit}: {state?.Invoke()}");
    }

    [SkippableFact]
    public async Task RateLimit_IsOneBucketForBothInstances()
    {
        string prefix = RedisFixture.NewPrefix();
        (ProxyFixture a, RedisStateStore storeA) = await Instance(prefix, Limited(rps: 3));
        (ProxyFixture b, RedisStateStore storeB) = await Instance(prefix, Limited(rps: 3));

        // Both connected before the count starts: a store still connecting answers from its local bucket.
        foreach (RedisStateStore store in new[] { storeA, storeB })
        {
            Assert.True((await store.TakeTokenAsync("warm-up", 1000)).Allowed);
            Assert.False(store.IsDegraded);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        int[] statuses =
        [
            (await Get(a)).Status, (await Get(b)).Status, (await Get(a)).Status,
            (await Get(b)).Status, (await Get(a)).Status,
        ];
        double seconds = clock.Elapsed.TotalSeconds;

        // The bucket refills by Redis's TIME (a real clock): one full bucket of 3, plus 3 per second
        // that the five requests took (on this loaded box they can take longer than a third of one).
        int admitted = statuses.Count(s => s == 200);
        Assert.InRange(admitted, 3, 3 + (int)(3 * seconds));
        Assert.Equal(5 - admitted, statuses.Count(s => s == 429));
        Assert.Equal(0, storeA.DegradedTransitions + storeB.DegradedTransitions);
        if (seconds < 1.0 / 3)
        {
            Assert.Equal(3, admitted);
        }
    }

    [SkippableFact]
    public async Task TrafficCap_CountsBothInstances()
    {
        string prefix = RedisFixture.NewPrefix();
        (ProxyFixture a, RedisStateStore storeA) = await Instance(prefix, Limited(traffic: 3 * MiB));
        (ProxyFixture b, RedisStateStore storeB) = await Instance(prefix, Limited(traffic: 3 * MiB));
        Assert.Equal(200, (await Get(a, "/bytes/" + (2 * MiB))).Status);
        await a.LogLinesAsync();
        await Eventually(() => storeB.TrafficUsed("p") >= 2 * MiB, TimeSpan.FromSeconds(5));
        // 2 MiB used < 3 MiB: admitted, and cut once the shared total crosses the cap (B knows A's 2 MiB).
        ProxyReply crossing = await Get(b, "/bytes/" + (2 * MiB));
        Assert.Equal(200, crossing.Status);
        Assert.InRange(crossing.Body.Length, 0, (2 * MiB) - 1);
        Assert.False(crossing.Reset, "a Content-Length body cut by the cap ends with a FIN: the client sees it is short");
        await b.LogLinesAsync();
        await Eventually(() => storeA.TrafficUsed("p") >= 3 * MiB, TimeSpan.FromSeconds(5), () => $"A sees {storeA.TrafficUsed("p")}, B sees {storeB.TrafficUsed("p")}");
        Assert.InRange(storeB.TrafficUsed("p"), 3 * MiB, 4 * MiB);
        ProxyReply refused = await Get(a);
        Assert.Equal(429, refused.Status);
        Assert.Equal("TRAFFIC_LIMIT_EXCEEDED", refused.Error);
        Assert.Equal("TRAFFIC_LIMIT_EXCEEDED", (await Get(b)).Error);
    }

    [SkippableFact]
    public async Task RedisKilled_RequestsStillServed_DegradedMetricSet_ThenSharedAgain()
    {
        string prefix = RedisFixture.NewPrefix();
        RedisStateStore? storeRef = null;
        using var metrics = new EngineMetrics(() => storeRef?.IsDegraded ?? false, () => 0);
        (ProxyFixture a, RedisStateStore storeA) = await Instance(prefix, Limited(rps: 1000), metrics, TimeSpan.FromMilliseconds(500));
        storeRef = storeA;
        (ProxyFixture b, RedisStateStore storeB) = await Instance(prefix, Limited(rps: 1000), timeout: TimeSpan.FromMilliseconds(500));
        Assert.Equal(200, (await Get(a)).Status);
        string node = (await ProxyReply.GetAsync(a.EndPoint, _origin.Port, "country-us-session-k1", "p-key")).Node!;
        Assert.Equal(0, Degraded(metrics));

        await _redis!.StopAsync();
        var served = Stopwatch.StartNew();
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(200, (await Get(i % 2 == 0 ? a : b)).Status);
            Assert.Equal(200, (await ProxyReply.ConnectAsync(b.EndPoint, _origin.Port, "country-us-session-k2", "p-key")).Status);
        }

        Assert.True(served.Elapsed < TimeSpan.FromSeconds(15), $"20 requests took {served.Elapsed} during the outage");
        await Eventually(() => storeA.IsDegraded, TimeSpan.FromSeconds(5));
        Assert.Equal(1, Degraded(metrics));

        await _redis.RestartAsync();
        await Eventually(() => !storeA.IsDegraded && !storeB.IsDegraded, TimeSpan.FromSeconds(10));
        Assert.Equal(0, Degraded(metrics));

        // Shared again: a session started through A after the outage continues through B.
        string fresh = (await ProxyReply.GetAsync(a.EndPoint, _origin.Port, "country-us-session-k3", "p-key")).Node!;
        Assert.Equal(fresh, (await ProxyReply.GetAsync(b.EndPoint, _origin.Port, "country-us-session-k3", "p-key")).Node);
        Assert.NotNull(node);
    }

    private static int Degraded(EngineMetrics metrics)
    {
        int value = -1;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // This instance's gauge only: other tests' EngineMetrics run in the same process.
            if (instrument.Name == "engine.state.degraded" && ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, measurement, _, _) => value = measurement);
        listener.Start();
        listener.RecordObservableInstruments();
        GC.KeepAlive(metrics);
        return value;
    }
}
