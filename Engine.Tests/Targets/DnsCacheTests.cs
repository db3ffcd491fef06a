using System.Net;
using System.Net.Sockets;
using Engine.Targets;

namespace Engine.Tests.Targets;

public class DnsCacheTests
{
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    [Fact]
    public async Task ResolveAsync_WithinTtl_QueriesOnce_ThenRefreshesAfterTtl()
    {
        var time = new ManualTime();
        int queries = 0;
        var cache = new DnsCache(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), time: time, resolve: (_, _) =>
        {
            Interlocked.Increment(ref queries);
            return Task.FromResult(new[] { IPAddress.Parse("93.184.216.34") });
        });

        for (int i = 0; i < 10; i++)
        {
            ResolveResult r = await cache.ResolveAsync("Example.com", CancellationToken.None);
            Assert.Equal(ResolveStatus.Resolved, r.Status);
        }

        Assert.Equal(1, queries);
        time.Advance(TimeSpan.FromSeconds(61));
        await cache.ResolveAsync("example.com", CancellationToken.None);
        Assert.Equal(2, queries);
    }

    [Fact]
    public async Task ResolveAsync_NxDomain_IsNotFound_AndCachedForTheNegativeTtl()
    {
        var time = new ManualTime();
        int queries = 0;
        var cache = new DnsCache(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), time: time, resolve: (_, _) =>
        {
            Interlocked.Increment(ref queries);
            throw new SocketException((int)SocketError.HostNotFound);
        });

        Assert.Equal(ResolveStatus.NotFound, (await cache.ResolveAsync("nope.invalid", CancellationToken.None)).Status);
        Assert.Equal(ResolveStatus.NotFound, (await cache.ResolveAsync("nope.invalid", CancellationToken.None)).Status);
        Assert.Equal(1, queries);
        time.Advance(TimeSpan.FromSeconds(6));
        await cache.ResolveAsync("nope.invalid", CancellationToken.None);
        Assert.Equal(2, queries);
    }

    [Fact]
    public async Task ResolveAsync_ConcurrentCallers_ShareOneQuery()
    {
        var gate = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        int queries = 0;
        var cache = new DnsCache(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), resolve: (_, _) =>
        {
            Interlocked.Increment(ref queries);
            return gate.Task;
        });

        Task<ResolveResult>[] waiting = Enumerable.Range(0, 8)
            .Select(_ => cache.ResolveAsync("shared.test", CancellationToken.None).AsTask())
            .ToArray();
        gate.SetResult([IPAddress.Loopback]);
        ResolveResult[] results = await Task.WhenAll(waiting);

        Assert.Equal(1, queries);
        Assert.All(results, r => Assert.Equal(IPAddress.Loopback, r.Addresses[0]));
    }

    [Fact]
    public async Task ResolveAsync_CallerTimesOut_GetsTimedOut_WithoutFailingOthers()
    {
        var gate = new TaskCompletionSource<IPAddress[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cache = new DnsCache(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), resolve: (_, _) => gate.Task);
        using var cts = new CancellationTokenSource();

        ValueTask<ResolveResult> impatient = cache.ResolveAsync("slow.test", cts.Token);
        ValueTask<ResolveResult> patient = cache.ResolveAsync("slow.test", CancellationToken.None);
        await cts.CancelAsync();
        Assert.Equal(ResolveStatus.TimedOut, (await impatient).Status);

        gate.SetResult([IPAddress.Loopback]);
        Assert.Equal(ResolveStatus.Resolved, (await patient).Status);
    }

    [Fact]
    public async Task ResolveAsync_IpLiteral_NeverQueries()
    {
        var cache = new DnsCache(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5),
            resolve: (_, _) => throw new InvalidOperationException("must not be called"));
        ResolveResult r = await cache.ResolveAsync("::ffff:127.0.0.1", CancellationToken.None);
        Assert.Equal(ResolveStatus.Resolved, r.Status);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task ResolveAsync_SameIpLiteralAgain_SharesOneAnswer_AndManyDistinctLiteralsStillResolve()
    {
        var cache = new DnsCache(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5),
            resolve: (_, _) => throw new InvalidOperationException("must not be called"));
        ResolveResult first = await cache.ResolveAsync("127.0.0.1", CancellationToken.None);
        ResolveResult again = await cache.ResolveAsync("127.0.0.1".AsSpan(), CancellationToken.None);
        Assert.Same(first.Addresses, again.Addresses);   // parsed once, nothing allocated the second time
        Assert.Equal(IPAddress.Loopback, Assert.Single(again.Addresses));

        // Past the literals' bound (1,024) each further one is parsed per request, and still right.
        for (int i = 0; i < 1100; i++)
        {
            string literal = $"127.0.{i / 256}.{i % 256}";
            ResolveResult r = await cache.ResolveAsync(literal, CancellationToken.None);
            Assert.Equal(IPAddress.Parse(literal), Assert.Single(r.Addresses));
        }

        Assert.Equal(0, cache.Count);   // the names' cache is not where literals go
    }

    [Fact]
    public async Task DistinctNamesWithinTheTtl_NeverGrowTheCachePastItsCap_EvictionsCounted()
    {
        var time = new ManualTime();
        var cache = new DnsCache(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), maxEntries: 256, time: time,
            resolve: (_, _) => Task.FromResult(new[] { IPAddress.Parse("192.0.2.1") }));

        // Before the cap was hard, a sweep found nothing stale and the table grew to 10,000.
        for (int i = 0; i < 10_000; i++)
        {
            Assert.Equal(ResolveStatus.Resolved, (await cache.ResolveAsync($"n{i}.example", CancellationToken.None)).Status);
            Assert.True(cache.Count <= 256, $"{cache.Count} entries after {i + 1} names");
        }

        Assert.Equal(10_000 - cache.Count, cache.Evicted);
    }
}
