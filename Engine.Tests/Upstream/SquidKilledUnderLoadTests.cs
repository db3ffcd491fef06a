using System.Collections.Concurrent;
using System.Diagnostics;
using Engine.Upstream;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Xunit.Abstractions;

namespace Engine.Tests.Upstream;

/// <summary>
/// Issue 19.7 against a real squid: SIGKILL it while 32 clients use it and a direct node. One
/// failure episode must be one ejection (before: 15 ejections and a 300 s cool-down from one burst).
/// Bounded: 32 clients for 3 s.
/// </summary>
public sealed class SquidKilledUnderLoadTests(ITestOutputHelper output)
{
    private const int SIGKILL = 9;

    [SkippableFact]
    public async Task SquidKilledUnder32Clients_IsEjectedOnce_WithTheBaseCooldown()
    {
        Skip.If(Squid.UnavailableReason is not null, Squid.UnavailableReason);
        Squid squid = await Squid.StartAsync();
        await using (squid)
        {
            await using var origin = new TestOrigin();
            await using var proxy = new ProxyFixture(o => o.Nodes =
            [
                new NodeOptions { Id = "squid", Type = NodeType.Http, Address = $"127.0.0.1:{squid.EndPoint.Port}", Country = "us", Network = "dc" },
                new NodeOptions { Id = "local", Type = NodeType.Direct, Country = "us", Network = "dc" },
            ]);

            var statuses = new ConcurrentDictionary<string, int>();
            var clock = Stopwatch.StartNew();
            long killedAt = 0;
            Task[] clients = Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
            {
                while (clock.Elapsed < TimeSpan.FromSeconds(3))
                {
                    ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, origin.Port, "country-us", ProxyFixture.Key);
                    statuses.AddOrUpdate($"{reply.Status} {reply.Error}", 1, (_, n) => n + 1);
                }
            })).ToArray();

            await Task.Delay(500);
            Assert.Equal(0, NativeMethods.Kill(squid.Pid, SIGKILL));   // our own child, by PID
            killedAt = proxy.Services.Time.GetTimestamp();
            await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60));

            output.WriteLine(string.Join(", ", statuses.Select(p => $"{p.Key}: {p.Value}")));
            Engine.Upstream.Node node = proxy.Routing.Pool.Find("squid")!;
            output.WriteLine($"ejections {node.Ejections}, out for {(node.OutUntil - killedAt) / (double)proxy.Services.Time.TimestampFrequency:0.0} s after the kill");

            Assert.Equal(1, node.Ejections);
            // The base cool-down from the first failures of the burst (within the 3 s of load), not doubled by the rest of it.
            Assert.InRange(node.OutUntil - killedAt, 1, Engine.Upstream.NodeHealthPolicy.ToTicks(proxy.Services.Time, TimeSpan.FromSeconds(10 + 3)));
            Assert.Contains(statuses.Keys, k => k.StartsWith("200", StringComparison.Ordinal));
        }
    }
}
