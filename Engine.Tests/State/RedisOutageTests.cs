using System.Diagnostics;
using System.Text;
using Engine.State;
using Engine.Tests.Fixtures;
using Engine.Upstream;
using StackExchange.Redis;
using Xunit.Abstractions;
using Engine.Sessions;

namespace Engine.Tests.State;

/// <summary>
/// Redis killed mid-test and started again on the same port: the store keeps answering from local
/// state within its timeout, flags itself degraded, and once Redis is back flushes what it counted
/// and shares sessions and tokens again. Nothing escapes, not even as an unobserved task exception.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(1);

    private static ReadOnlyMemory<byte> B(string s) => Encoding.ASCII.GetBytes(s);

    private static readonly SessionTerms Terms = new(600, 0, 0, 0);

    private static async Task<T> Timed<T>(Func<ValueTask<T>> call, string what)
    {
        var clock = Stopwatch.StartNew();
        T result = await call().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(clock.Elapsed < CallBound, $"{what} took {clock.Elapsed.TotalMilliseconds:0} ms");
        return result;
    }

    private static async Task<TimeSpan> WaitUntil(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < limit)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), $"not within {limit}");
        return clock.Elapsed;
    }

    [SkippableFact]
    public async Task Outage_StoreAnswersLocally_ThenRecoversAndFlushes()
    {
        int unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> watch = (_, e) =>
        {
            if (e.Exception.InnerExceptions.Any(RedisLink.IsOutage))
            {
                Interlocked.Increment(ref unobserved);
            }
        };
        TaskScheduler.UnobservedTaskException += watch;
        await using RedisServer server = await RedisServer.StartAsync();
        string prefix = RedisFixture.NewPrefix();
        var log = new ListLogger();
        await using RedisStateStore a = await RedisFixture.CreateAsync(server, prefix, timeout: TimeSpan.FromMilliseconds(500), logger: log);
        await using RedisStateStore b = await RedisFixture.CreateAsync(server, prefix, timeout: TimeSpan.FromMilliseconds(500));
        try
        {
            Assert.True((await a.TakeTokenAsync("p", 10)).Allowed);
            a.AddTraffic("p", 100);
            Assert.True(await a.FlushNowAsync());

            await server.StopAsync();
            var outage = Stopwatch.StartNew();

            // Each answers within the bound, whether the store has noticed yet or not.
            RateDecision token = await Timed(() => a.TakeTokenAsync("p", 10), "TakeTokenAsync");
            Assert.True(token.Allowed);
            SessionOpened opened = await Timed(() => a.Sessions.OpenAsync("p", B("during"), B("country-us"), Terms), "OpenAsync");
            Assert.Equal(SessionOpenStatus.Created, opened.Status);
            await Timed(async () =>
            {
                await a.Sessions.CommitAsync("p", B("during"), null, "n1");
                return 0;
            }, "CommitAsync");
            // Traffic is counted locally and flushed later: the call must not wait on the dead server.
            // Real time is the point; 250 ms is half the store's 500 ms timeout, the least a call that
            // waited on Redis would take, so load on this box cannot make it fail by accident.
            var add = Stopwatch.StartNew();
            a.AddTraffic("p", 5000);
            Assert.True(add.Elapsed < TimeSpan.FromMilliseconds(250), $"AddTraffic took {add.Elapsed.TotalMilliseconds:0} ms");
            TimeSpan detected = await WaitUntil(() => a.IsDegraded && b.IsDegraded, TimeSpan.FromSeconds(5));
            output.WriteLine($"degraded {outage.Elapsed.TotalMilliseconds:0} ms after the kill (waited {detected.TotalMilliseconds:0} ms after the first calls)");

            // Degraded: local buckets at the full rate, local sessions, traffic on top of the last shared total.
            Assert.Equal("n1", (await Timed(() => a.Sessions.OpenAsync("p", B("during"), B("country-us"), Terms), "OpenAsync")).NodeId);
            Assert.Equal(5100, a.TrafficUsed("p"));
            // The flag flips first and the line is written right after it, on whichever thread failed.
            await WaitUntil(() => log.Count(100) == 1, TimeSpan.FromSeconds(1));
            Assert.Equal(1, a.DegradedTransitions);
            await Timed(() => a.TakeTokenAsync("p", 10), "TakeTokenAsync");
            Assert.Equal(1, log.Count(100));

            await server.RestartAsync();
            var back = Stopwatch.StartNew();
            await WaitUntil(() => !a.IsDegraded && !b.IsDegraded, TimeSpan.FromSeconds(20));
            output.WriteLine($"shared again {back.Elapsed.TotalMilliseconds:0} ms after redis-server was back");

            // The restarted Redis is empty: it holds exactly what was counted during the outage.
            await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(server.ConfigurationString);
            Assert.Equal(5000, (long)await direct.GetDatabase().StringGetAsync(prefix + "{p}:traffic"));

            Assert.Equal(SessionOpenStatus.Created, (await a.Sessions.OpenAsync("p", B("after"), B("country-us"), Terms)).Status);
            await a.Sessions.CommitAsync("p", B("after"), null, "n4");
            Assert.Equal("n4", (await b.Sessions.OpenAsync("p", B("after"), B("country-us"), Terms)).NodeId);
            Assert.True((await b.TakeTokenAsync("shared", 1)).Allowed);
            Assert.False((await a.TakeTokenAsync("shared", 1)).Allowed);

            // One line per transition: down once, back once, however many calls failed meanwhile.
            Assert.Equal(1, a.DegradedTransitions);
            Assert.Equal(1, log.Count(100));
            await WaitUntil(() => log.Count(101) == 1, TimeSpan.FromSeconds(1));
        }
        finally
        {
            await a.DisposeAsync();
            await b.DisposeAsync();
            Assert.Equal(1, log.Count(100));   // closing the store is not an outage
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TaskScheduler.UnobservedTaskException -= watch;
        }

        Assert.Equal(0, Volatile.Read(ref unobserved));
    }

    [SkippableFact]
    public async Task Start_WithoutRedis_IsDegraded_AndServesLocally()
    {
        Tools.RequireNot(RedisServer.UnavailableReason is not null, RedisServer.UnavailableReason);
        int port = Fixtures.Upstreams.UpstreamProcess.FreePort();
        await using RedisStateStore store = await RedisStateStore.ConnectAsync(
            new RedisStateOptions { Configuration = $"127.0.0.1:{port}", KeyPrefix = RedisFixture.NewPrefix() },
            TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Assert.True(store.IsDegraded);
        Assert.True((await Timed(() => store.TakeTokenAsync("p", 5), "TakeTokenAsync")).Allowed);
        Assert.Equal(SessionOpenStatus.Created, (await Timed(() => store.Sessions.OpenAsync("p", B("s"), B("r"), Terms), "OpenAsync")).Status);
        store.AddTraffic("p", 10);
        Assert.Equal(10, store.TrafficUsed("p"));
        Assert.Equal(10, store.CreditsUsed);
    }
}
