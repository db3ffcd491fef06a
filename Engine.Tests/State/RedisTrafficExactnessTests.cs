using System.Diagnostics;
using Engine.Auth;
using Engine.Limits;
using Engine.State;
using Engine.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Engine.Tests.State;

/// <summary>
/// Traffic and credits through Redis count every byte once, whatever a flush meets: a reader in the
/// middle of one, Redis stalled past the timeout, an outage that ends just before a graceful stop, and
/// a periodic cap's past periods are not read back forever.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisTrafficExactnessTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private static Task<RedisStateStore> Store(RedisServer server, string prefix, TimeSpan? probe = null, TimeSpan? timeout = null, TimeSpan? flush = null) =>
        RedisStateStore.ConnectAsync(new RedisStateOptions
        {
            Configuration = server.ConfigurationString,
            KeyPrefix = prefix,
            Timeout = timeout ?? TimeSpan.FromSeconds(5),
            FlushInterval = flush ?? TimeSpan.FromMilliseconds(50),
            ProbeInterval = probe ?? TimeSpan.FromMilliseconds(100),
        }, TimeProvider.System, NullLogger.Instance);

    private RedisServer Server => redis.Server ?? throw Tools.Unavailable(redis.Unavailable?.Message ?? "redis-server did not start");

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{what}: not within 20 s");
            await Task.Delay(10);
        }
    }

    [SkippableFact]
    public async Task TrafficUsed_ReadDuringFlushes_NeverExceedsWhatWasAdded()
    {
        // A flush used to write the new total (which holds the bytes it sent) and only then take those
        // bytes off the pending count: a reader in between saw them twice (606 reads over 10 flushes),
        // a 429 or a cut tunnel for a package one flush short of its cap.
        await using RedisStateStore store = await Store(Server, RedisFixture.NewPrefix(), flush: TimeSpan.FromHours(1));   // only this test flushes
        long added = 0;
        long overReads = 0;
        long worst = 0;
        using var stop = new CancellationTokenSource();
        var reader = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                // The counters first, then the bytes added: added grows before the counters do, so a
                // correct counter read earlier is at or below it.
                long used = Math.Max(store.TrafficUsed("p"), store.CreditsUsed);
                long over = used - Volatile.Read(ref added);
                if (over > 0)
                {
                    Interlocked.Increment(ref overReads);
                    worst = Math.Max(worst, over);
                }
            }
        }) { IsBackground = true };
        store.TrafficUsed("p");
        reader.Start();
        for (int flushes = 0; flushes < 500; flushes++)
        {
            Interlocked.Add(ref added, 1000);
            store.AddTraffic("p", 1000);
            Assert.True(await store.FlushNowAsync());
        }

        stop.Cancel();
        reader.Join();
        output.WriteLine($"500 flushes, {overReads} reads above the bytes added (worst +{worst})");
        Assert.Equal(0, Interlocked.Read(ref overReads));
        Assert.Equal(500_000, store.TrafficUsed("p"));
    }

    [SkippableFact]
    public async Task RedisStalledPastTheTimeout_TheFlushItRanLate_CountsOnce()
    {
        // The flush times out while Redis holds it back; Redis runs it afterwards anyway, and the probe's
        // flush sends the same bytes again. Numbered flushes make the second one add nothing.
        string prefix = RedisFixture.NewPrefix();
        await using RedisStateStore store = await Store(Server, prefix, timeout: TimeSpan.FromMilliseconds(300));   // the loop runs the probe
        Assert.True(await store.FlushNowAsync());
        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(Server.ConfigurationString + ",allowAdmin=true");
        IDatabase db = direct.GetDatabase();

        await db.ExecuteAsync("CLIENT", "PAUSE", "800", "WRITE");   // a stall (a fork, a slow script) of 800 ms
        store.AddTraffic("p", 1000);
        Assert.False(await store.FlushNowAsync());   // timed out: degraded, the bytes kept
        Assert.True(store.IsDegraded);
        await UntilAsync(() => !store.IsDegraded, "the probe's flush");

        store.AddTraffic("p", 500);
        Assert.True(await store.FlushNowAsync());
        Assert.Equal(1500, (long)await db.StringGetAsync(prefix + "{p}:traffic"));
        Assert.Equal(1500, (long)await db.StringGetAsync(prefix + "credits"));
        Assert.Equal(1500, store.TrafficUsed("p"));
    }

    [SkippableFact]
    public async Task PeriodicCap_ThirtyDaysLater_OneFlushReadsOnlyTheCurrentPeriod()
    {
        // Every day's counter stayed in the store and was read back by every flush, every 100 ms, for as
        // long as the process ran: 1,000 daily-capped packages after a year, 365,000 GETs per flush.
        await using RedisStateStore store = await Store(Server, RedisFixture.NewPrefix(), flush: TimeSpan.FromHours(1));
        var time = new UtcClock { Now = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero) };
        var limiter = new RequestLimiter(store, creditPoolBytes: null, time);
        var package = new Package("daily", "k", limits: new PackageLimits(null, null, 1_000_000_000, null, TrafficPeriod.Day));
        for (int day = 0; day < 30; day++)
        {
            Assert.Equal(Admission.Admitted, (await limiter.AdmitAsync(package)).Verdict);
            limiter.AddTraffic(package, 10);
            Assert.True(await store.FlushNowAsync());
            time.Now = time.Now.AddDays(1);
        }

        Assert.Equal(Admission.Admitted, (await limiter.AdmitAsync(package)).Verdict);   // day 31: its period starts
        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(Server.ConfigurationString + ",allowAdmin=true");
        IServer admin = direct.GetServer(Server.ConfigurationString);
        await admin.ConfigResetStatisticsAsync();
        limiter.AddTraffic(package, 10);
        Assert.True(await store.FlushNowAsync());
        string? gets = (await admin.InfoRawAsync("commandstats"))!.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_get:", StringComparison.Ordinal));
        output.WriteLine(gets ?? "no GET");
        // The flush number's own GET only: the current period's counter and the credits are INCRBYs.
        Assert.True(gets is not null && gets.Contains("calls=1,", StringComparison.Ordinal), $"one flush read back past periods: {gets}");
    }

    [SkippableFact]
    public async Task GracefulStop_RedisBackBeforeTheProbeRan_FlushesTheOutagesBytes()
    {
        // A stop (a deploy) in the window between Redis coming back and the probe noticing used to skip
        // the flush: every byte counted during the outage was lost.
        await using RedisServer server = await RedisServer.StartAsync();
        string prefix = RedisFixture.NewPrefix();
        RedisStateStore store = await Store(server, prefix, probe: TimeSpan.FromHours(1), timeout: TimeSpan.FromMilliseconds(500));
        store.AddTraffic("p", 100);
        Assert.True(await store.FlushNowAsync());
        await server.StopAsync();
        await UntilAsync(() => store.IsDegraded, "the outage noticed");

        store.AddTraffic("p", 5000);   // counted during the outage
        await server.RestartAsync();   // empty: only what the stop flushes will be there
        await UntilAsync(() => store.IsConnected, "the client reconnected");
        Assert.True(store.IsDegraded);   // the probe (an hour) has not run

        await store.DisposeAsync();
        await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(server.ConfigurationString);
        RedisValue total = await direct.GetDatabase().StringGetAsync(prefix + "{p}:traffic");
        Assert.Equal(5000, total.IsNull ? 0 : (long)total);
    }

    private sealed class UtcClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
