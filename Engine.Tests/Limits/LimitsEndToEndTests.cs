using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Engine.Auth;
using Engine.Diagnostics;
using Engine.Hosting;
using Engine.Limits;
using Engine.Tests.Fixtures;
using Engine.Tests.Forwarding;
using Engine.Tests.Upstream;
using Engine.Upstream;

namespace Engine.Tests.Limits;

/// <summary>Per-package limits, the credit pool, circuit breakers and load shedding, over loopback with a real origin.</summary>
[Collection("Serial")]
public sealed class LimitsEndToEndTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly TestOrigin _origin = new();
    private readonly List<ProxyFixture> _proxies = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ProxyFixture proxy in _proxies)
        {
            await proxy.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    private ProxyFixture Proxy(Action<ProxyFixtureOptions> configure, params Package[] packages)
    {
        var proxy = new ProxyFixture(o =>
        {
            o.Packages.Clear();
            o.Packages.AddRange(packages);
            // One direct node: keep domain bans out of the way of what these tests count.
            o.Health = new NodeHealthPolicy(TimeProvider.System, 100, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1), 1000, TimeSpan.FromMinutes(10));
            configure(o);
        });
        _proxies.Add(proxy);
        return proxy;
    }

    private static Package Limited(string id, string key, int? rps = null, int? concurrent = null, long? traffic = null, CircuitBreakerOptions? breaker = null) =>
        new(id, key, defaultRules: "country-any", limits: new PackageLimits(rps, concurrent, traffic, breaker));

    private Task<ProxyReply> Get(ProxyFixture proxy, string key, string path = "/small") =>
        ProxyReply.GetAsync(proxy.EndPoint, _origin.Port, "country-us", key, path);

    private Task<ProxyReply> Tunnel(ProxyFixture proxy, string key, string path = "/small") =>
        ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us", key, path);

    [Fact]
    public async Task RequestsPerSecond_64ConcurrentClients_AdmitExactlyTheBucketAndItsRefill()
    {
        // The engine's clock moves only when the test moves it: every admission is accounted for
        // exactly (a full bucket of one second's burst, then the refill for the time advanced).
        var time = new Engine.Tests.Fixtures.ManualTimeProvider();
        ProxyFixture proxy = Proxy(o => o.Time = time, Limited("p", "p-key", rps: 100));
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy(proxy.Uri) { Credentials = new NetworkCredential("country-us", "p-key") },
            MaxConnectionsPerServer = 64,
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        string url = $"http://127.0.0.1:{_origin.Port}/small";
        int other = 0;
        string? retryAfter = null;

        // 64 clients, 4 requests each, all at one instant of the engine's clock.
        async Task<int> RoundAsync()
        {
            int admitted = 0;
            await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
            {
                for (int i = 0; i < 4; i++)
                {
                    using HttpResponseMessage response = await client.GetAsync(url);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref admitted);
                    }
                    else if ((int)response.StatusCode == 429)
                    {
                        retryAfter ??= response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    }
                    else
                    {
                        Interlocked.Increment(ref other);
                    }
                }
            })));
            return admitted;
        }

        Assert.Equal(100, await RoundAsync());
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(50, await RoundAsync());
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(100, await RoundAsync());   // the bucket holds one second, however long the pause
        Assert.Equal(0, await RoundAsync());
        Assert.Equal(0, other);
        Assert.Equal("1", retryAfter);
    }

    [Fact]
    public async Task RateLimited_AnswerIs429WithRetryAfterAndLimitedByRps()
    {
        ProxyFixture proxy = Proxy(_ => { }, Limited("p", "p-key", rps: 1));
        Assert.Equal(200, (await Tunnel(proxy, "p-key")).Status);   // a tunnel counts as one request
        ProxyReply limited = await Get(proxy, "p-key");
        Assert.Equal(429, limited.Status);
        Assert.Equal("RATE_LIMIT_EXCEEDED", limited.Error);
        Assert.Equal("1", limited.Header("Retry-After"));
        using JsonDocument body = JsonDocument.Parse(limited.Body);
        Assert.Equal("rps", body.RootElement.GetProperty("limitedBy").GetString());
        Assert.Equal(1, body.RootElement.GetProperty("retryAfterSeconds").GetInt32());
    }

    [Fact]
    public async Task MaxConcurrent_CountsOpenTunnels_AndFreesTheSlotWhenOneCloses()
    {
        ProxyFixture proxy = Proxy(_ => { }, Limited("p", "p-key", concurrent: 2));
        Socket first = await OpenTunnelAsync(proxy, "p-key");
        Socket second = await OpenTunnelAsync(proxy, "p-key");
        ProxyReply third = await Tunnel(proxy, "p-key");
        Assert.Equal(429, third.Status);
        Assert.Equal("RATE_LIMIT_EXCEEDED", third.Error);
        Assert.Equal("1", third.Header("Retry-After"));
        using (JsonDocument body = JsonDocument.Parse(third.Body))
        {
            Assert.Equal("concurrency", body.RootElement.GetProperty("limitedBy").GetString());
        }

        first.Dispose();
        for (int i = 0; i < 200 && proxy.Services.Limiter.InFlight("p") > 1; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(200, (await Tunnel(proxy, "p-key")).Status);
        second.Dispose();
    }

    [Fact]
    public async Task TrafficCap_CountsTunnelsAndPlainRequests_CutsTheTunnelThatCrossesIt_ThenRefuses()
    {
        ProxyFixture proxy = Proxy(_ => { }, Limited("p", "p-key", traffic: 10 * MiB), Limited("q", "q-key"));
        ProxyReply plain = await Get(proxy, "p-key", "/bytes/" + (3 * MiB));
        Assert.Equal(3 * MiB, plain.Body.Length);
        ProxyReply tunnel = await Tunnel(proxy, "p-key", "/bytes/" + (3 * MiB));
        Assert.Contains("Content-Length: " + (3 * MiB), tunnel.Body, StringComparison.Ordinal);
        await proxy.LogLinesAsync(2);   // the tunnel's bytes are counted when it has ended
        Assert.InRange(proxy.State.TrafficUsed("p"), 6 * MiB, 7 * MiB);

        // This one crosses 10 MiB: cut within a batch (1 MiB) of the cap, not carried to 16 MiB.
        ProxyReply crossing = await Tunnel(proxy, "p-key", "/bytes/" + (10 * MiB));
        Assert.Equal(200, crossing.Status);
        Assert.InRange(crossing.Body.Length, 3 * MiB, 6 * MiB);
        Assert.False(crossing.Reset, "a tunnel cut by the cap ends with a FIN behind the bytes counted");
        await proxy.LogLinesAsync(3);
        Assert.InRange(proxy.State.TrafficUsed("p"), 10 * MiB, 12 * MiB);

        ProxyReply refused = await Get(proxy, "p-key");
        Assert.Equal(429, refused.Status);
        Assert.Equal("TRAFFIC_LIMIT_EXCEEDED", refused.Error);
        Assert.Null(refused.Header("Retry-After"));
        Assert.Equal(200, (await Get(proxy, "q-key")).Status);   // another package is not affected

        string[] log = await proxy.LogLinesAsync(5);
        Assert.Contains(log, line => line.Contains("code=TRAFFIC_LIMIT_EXCEEDED", StringComparison.Ordinal) && line.Contains("status=200", StringComparison.Ordinal));
    }

    // Packages[].TrafficPeriod: with a period the 429 says when the cap resets (here 23:59:00 UTC: 60 s).
    [Fact]
    public async Task TrafficCapWithADailyPeriod_429SaysWhenItResets()
    {
        var clock = new FixedUtcClock(new DateTimeOffset(2026, 12, 5, 23, 59, 0, TimeSpan.Zero));
        ProxyFixture proxy = Proxy(o => o.Time = clock,
            new Package("p", "p-key", defaultRules: "country-any", limits: new PackageLimits(null, null, MiB, null, TrafficPeriod.Day)));
        Assert.Equal(200, (await Get(proxy, "p-key", "/bytes/" + (2 * MiB))).Status);
        await proxy.LogLinesAsync(1);

        ProxyReply refused = await Get(proxy, "p-key");

        Assert.Equal(429, refused.Status);
        Assert.Equal("TRAFFIC_LIMIT_EXCEEDED", refused.Error);
        Assert.Equal("60", refused.Header("Retry-After"));
        using JsonDocument body = JsonDocument.Parse(refused.Body);
        Assert.Equal(60, body.RootElement.GetProperty("retryAfterSeconds").GetInt32());
        Assert.Equal("traffic", body.RootElement.GetProperty("limitedBy").GetString());
    }

    /// <summary>The wall clock stands still (the period's boundary is what matters); timers and timestamps run as usual.</summary>
    private sealed class FixedUtcClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public async Task CreditPool_EmptiesAcrossTwoPackages_ThenEveryPackageGets407()
    {
        ProxyFixture proxy = Proxy(o => o.CreditPoolBytes = 4 * MiB, Limited("a", "a-key"), Limited("b", "b-key"));
        Assert.Equal(200, (await Get(proxy, "a-key", "/bytes/" + (3 * MiB / 2))).Status);
        Assert.Equal(200, (await Tunnel(proxy, "b-key", "/bytes/" + (3 * MiB))).Status);
        await proxy.LogLinesAsync(2);
        Assert.True(proxy.State.CreditsUsed >= 4 * MiB);
        foreach (string key in new[] { "a-key", "b-key" })
        {
            ProxyReply refused = await Get(proxy, key);
            Assert.Equal(407, refused.Status);
            Assert.Equal("PACKAGE_NO_CREDITS", refused.Error);
            using JsonDocument body = JsonDocument.Parse(refused.Body);
            Assert.Equal("credits", body.RootElement.GetProperty("limitedBy").GetString());
        }
    }

    [Fact]
    public async Task CircuitBreaker_FailingDomainOpens503_OtherDomainsPass_TrialAfterCooldownCloses()
    {
        var clock = new ManualTimeProvider();
        var breaker = new CircuitBreakerOptions { FailureRatio = 0.3, Window = TimeSpan.FromMinutes(5), MinRequests = 4, Cooldown = TimeSpan.FromSeconds(30) };
        ProxyFixture proxy = Proxy(o => o.Time = clock, Limited("p", "p-key", breaker: breaker), Limited("q", "q-key"));
        int closed = TestPorts.Closed();
        for (int i = 0; i < 4; i++)
        {
            ProxyReply failed = await ProxyReply.ConnectAsync(proxy.EndPoint, closed, "country-us", "p-key", host: "localhost");
            Assert.Equal("TARGET_CONNECT_FAILED", failed.Error);
        }

        ProxyReply open = await ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us", "p-key", host: "localhost");
        Assert.Equal(503, open.Status);
        Assert.Equal("DOMAIN_CIRCUIT_OPEN", open.Error);
        Assert.Equal("30", open.Header("Retry-After"));

        Assert.Equal(200, (await Tunnel(proxy, "p-key")).Status);   // 127.0.0.1 is another domain
        Assert.Equal(200, (await ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us", "q-key", host: "localhost")).Status);   // no breaker

        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(200, (await ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us", "p-key", host: "localhost")).Status);
        Assert.Equal(200, (await ProxyReply.ConnectAsync(proxy.EndPoint, _origin.Port, "country-us", "p-key", host: "localhost")).Status);
    }

    [Fact]
    public async Task Overload_LongWorkQueue_Sheds503WithRetryAfter_AndRecovers_AndCountsInMetrics()
    {
        long pending = 0;
        using var monitor = new OverloadMonitor(100, TimeSpan.Zero, new ManualTimeProvider(), () => Interlocked.Read(ref pending));
        using var metrics = new EngineMetrics(() => false, () => monitor.Shed);
        var seen = new Dictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // This test's meter only: other tests' EngineMetrics run in the same process.
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name + (tags.Length > 0 ? ":" + tags[0].Value : "");
            lock (seen)
            {
                seen[key] = seen.GetValueOrDefault(key) + value;
            }
        });
        listener.Start();
        ProxyFixture proxy = Proxy(o =>
        {
            o.Overload = monitor;
            o.Metrics = metrics;
        }, Limited("p", "p-key"));
        Interlocked.Exchange(ref pending, 5000);
        monitor.Sample();
        ProxyReply shed = await Get(proxy, "p-key");
        Assert.Equal(503, shed.Status);
        Assert.Equal("OVERLOADED", shed.Error);
        Assert.Equal("1", shed.Header("Retry-After"));
        Assert.Equal(1, monitor.Shed);

        listener.RecordObservableInstruments();
        lock (seen)
        {
            Assert.Equal(1, seen["engine.limits.rejected:overload"]);
            Assert.Equal(1, seen["engine.overload.shed"]);
        }

        Interlocked.Exchange(ref pending, 0);
        monitor.Sample();
        Assert.Equal(200, (await Get(proxy, "p-key")).Status);
    }

    private static void InterlockedMin(ref long target, long value)
    {
        long seen;
        while (value < (seen = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private async Task<Socket> OpenTunnelAsync(ProxyFixture proxy, string key)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy.EndPoint);
        string auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + key));
        await socket.SendAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\nProxy-Authorization: Basic {auth}\r\n\r\n"), SocketFlags.None);
        byte[] buffer = new byte[1024];
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None);
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);
        return socket;
    }
}
