using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Engine.Upstream;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Xunit.Abstractions;

namespace Engine.Tests.Upstream;

/// <summary>
/// Issues 19.7 and 19.8 against a real squid: SIGKILL it while 32 clients use it and a direct node.
/// One failure episode must be one ejection (before: 15 ejections and a 300 s cool-down from one
/// burst), and GETs in flight fail over to 200, never 502 NODE_UNAVAILABLE. Bounded: 32 clients for 3 s.
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

            await AnsweredAsync(statuses, 100);   // load running through both nodes, not a guessed sleep
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

    /// <summary>
    /// Issue 19.8: GETs in flight on squid's pooled connections when it is killed. The retry on a fresh
    /// connection went to the same dead node and answered 502 NODE_UNAVAILABLE (2-16 per kill here
    /// with main's fix of that retry reverted, in 5 runs of 6); it must move on per onerror and answer 200. A
    /// response whose head squid had already relayed can only be cut (TARGET_RESET, logged): those
    /// are counted, not failed.
    /// </summary>
    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SquidKilledUnder32Clients_GetsInFlight_FailOverTo200_NeverNodeUnavailable(bool keepAlive)
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
            string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
            byte[] request = Encoding.ASCII.GetBytes(
                $"GET http://127.0.0.1:{origin.Port}/small HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{auth}{(keepAlive ? "" : "Connection: close\r\n")}\r\n");
            var statuses = new ConcurrentDictionary<string, int>();
            var clock = Stopwatch.StartNew();
            Task[] clients = Enumerable.Range(0, 32).Select(_ => Task.Run(() => ClientAsync(proxy, request, keepAlive, clock, statuses))).ToArray();

            await AnsweredAsync(statuses, 100);
            Assert.Equal(0, NativeMethods.Kill(squid.Pid, SIGKILL));   // our own child, by PID
            await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60));

            output.WriteLine(string.Join(", ", statuses.Select(p => $"{p.Key}: {p.Value}")));
            Assert.DoesNotContain(statuses.Keys, k => k.StartsWith("502", StringComparison.Ordinal));
            Assert.All(statuses.Keys, k => Assert.True(k is "200" or "200 cut after the head", k));
            Assert.True(statuses.GetValueOrDefault("200") > 100);
        }
    }

    /// <summary>Waits (bounded) until the clients have <paramref name="count"/> answers.</summary>
    private static async Task AnsweredAsync(ConcurrentDictionary<string, int> statuses, int count)
    {
        var waited = Stopwatch.StartNew();
        while (statuses.Values.Sum() < count)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), $"only {statuses.Values.Sum()} answers");
            await Task.Delay(5);
        }
    }

    /// <summary>One client for 3 s: GETs on one connection (or one each), each answer's status and X-Proxy-Error counted.</summary>
    private static async Task ClientAsync(ProxyFixture proxy, byte[] request, bool keepAlive, Stopwatch clock, ConcurrentDictionary<string, int> statuses)
    {
        Socket? socket = null;
        byte[] buffer = new byte[16 * 1024];
        try
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(3))
            {
                if (socket is null)
                {
                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(proxy.EndPoint);
                }

                await socket.SendAsync(request, SocketFlags.None);
                var text = new StringBuilder();
                int headEnd;
                int n = 1;
                while ((headEnd = text.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0 && n > 0)
                {
                    n = await SocketText.ReceiveOrResetAsync(socket, buffer);   // a reset: cut after the head
                    text.Append(Encoding.Latin1.GetString(buffer, 0, Math.Max(n, 0)));
                }

                string answer;
                bool close = true;
                if (headEnd < 0)
                {
                    answer = "closed without an answer";
                }
                else
                {
                    string[] lines = text.ToString(0, headEnd).Split("\r\n");
                    string? code = lines.FirstOrDefault(l => l.StartsWith("X-Proxy-Error:", StringComparison.Ordinal))?["X-Proxy-Error:".Length..].Trim();
                    string? length = lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))?["Content-Length:".Length..].Trim();
                    long remaining = long.Parse(length ?? "0", System.Globalization.CultureInfo.InvariantCulture) - (text.Length - headEnd - 4);
                    while (remaining > 0 && (n = await SocketText.ReceiveOrResetAsync(socket, buffer)) > 0)
                    {
                        remaining -= n;
                    }

                    answer = lines[0].Split(' ')[1] + (code is null ? "" : " " + code) + (remaining > 0 ? " cut after the head" : "");
                    close = !keepAlive || remaining > 0 || lines.Contains("Connection: close", StringComparer.OrdinalIgnoreCase);
                }

                statuses.AddOrUpdate(answer, 1, (_, c) => c + 1);
                if (close)
                {
                    socket.Dispose();
                    socket = null;
                }
            }
        }
        finally
        {
            socket?.Dispose();
        }
    }

    /// <summary>
    /// Issue 19.7: what a squid restart costs the node's capacity. Squid is killed under load and
    /// started again on its port after an outage (3 s here; <c>ENGINE_TESTS_SQUID_OUTAGE_SECONDS=15</c>
    /// measures the issue's 15 s restart). Live traffic keeps hitting the node when its 10 s cool-down
    /// ends, so without the probe a restart longer than the cool-down doubles it (out until ~30 s after
    /// the kill); the probe (on by default for http nodes, every 5 s) brings it back within one
    /// interval of squid listening again.
    /// </summary>
    [SkippableFact]
    public async Task SquidRestarted_NodeCarriesTrafficAgain_WithinOneProbeIntervalOfTheRestart()
    {
        Skip.If(Squid.UnavailableReason is not null, Squid.UnavailableReason);
        TimeSpan outage = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("ENGINE_TESTS_SQUID_OUTAGE_SECONDS") ?? "3", System.Globalization.CultureInfo.InvariantCulture));
        TimeSpan probeInterval = TimeSpan.FromSeconds(5);   // RoutingOptions' default
        Squid squid = await Squid.StartAsync();
        int port = squid.EndPoint.Port;
        Squid? restarted = null;
        bool squidGone = false;
        try
        {
            await using var origin = new TestOrigin();
            await using var proxy = new ProxyFixture(o =>
            {
                o.ProbeInterval = probeInterval;
                o.Nodes =
                [
                    new NodeOptions { Id = "squid", Type = NodeType.Http, Address = $"127.0.0.1:{port}", Country = "us", Network = "dc" },
                    new NodeOptions { Id = "local", Type = NodeType.Direct, Country = "us", Network = "dc" },
                ];
            });

            var statuses = new ConcurrentDictionary<string, int>();
            var clock = Stopwatch.StartNew();
            long servedBySquidAt = 0;   // Stopwatch ticks of the first answer through squid after the restart
            long restartedAt = long.MaxValue;
            TimeSpan limit = outage + TimeSpan.FromSeconds(60);
            using var done = new CancellationTokenSource();
            Task[] clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                while (!done.IsCancellationRequested && clock.Elapsed < limit)
                {
                    ProxyReply reply = await ProxyReply.GetAsync(proxy.EndPoint, origin.Port, "country-us", ProxyFixture.Key);
                    statuses.AddOrUpdate($"{reply.Status} {reply.Error}", 1, (_, n) => n + 1);
                    if (reply.Node == "squid" && clock.ElapsedTicks > Volatile.Read(ref restartedAt))
                    {
                        Interlocked.CompareExchange(ref servedBySquidAt, clock.ElapsedTicks, 0);
                        await done.CancelAsync();
                    }
                }
            })).ToArray();

            await AnsweredAsync(statuses, 100);
            Assert.Equal(0, NativeMethods.Kill(squid.Pid, SIGKILL));   // our own child, by PID
            long killedAt = clock.ElapsedTicks;
            await squid.DisposeAsync();
            squidGone = true;
            await Task.Delay(outage);   // real time is the point: the outage is what is measured
            Engine.Upstream.Node node = proxy.Routing.Pool.Find("squid")!;
            int ejectionsAtRestart = node.Ejections;
            double outForAtRestart = (node.OutUntil - proxy.Services.Time.GetTimestamp()) / (double)proxy.Services.Time.TimestampFrequency;
            restarted = await Squid.StartAsync(port: port);
            Volatile.Write(ref restartedAt, clock.ElapsedTicks);
            await Task.WhenAll(clients).WaitAsync(limit + TimeSpan.FromSeconds(30));

            double Seconds(long ticks) => ticks / (double)Stopwatch.Frequency;
            Assert.True(servedBySquidAt > 0, $"squid carried no traffic within {limit} of the kill; ejections {ejectionsAtRestart}");
            double afterRestart = Seconds(servedBySquidAt - restartedAt);
            output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"outage {outage.TotalSeconds:0} s: node carried traffic again {afterRestart:0.0} s after squid restarted, {Seconds(servedBySquidAt - killedAt):0.0} s after the kill; at the restart: ejections {ejectionsAtRestart}, out for {Math.Max(0, outForAtRestart):0.0} s more; answers {string.Join(", ", statuses.Select(p => $"{p.Key}: {p.Value}"))}"));
            Assert.InRange(afterRestart, 0, probeInterval.TotalSeconds + 2);   // one probe interval, plus a margin for this loaded box
            Assert.All(statuses.Keys, k => Assert.StartsWith("200", k, StringComparison.Ordinal));
        }
        finally
        {
            if (!squidGone)
            {
                await squid.DisposeAsync();
            }

            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }
        }
    }
}
