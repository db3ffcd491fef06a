using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Engine.Connection;
using Engine.Hosting;
using Engine.State;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace LoadTests;

/// <summary>
/// <c>LoadTests sticky</c>: keep-alive GETs that each carry one of <c>--sessions</c> sticky sessions
/// (<c>country-us-session-sN</c>, taken in turn), through an engine in this process with the memory
/// store and then with <c>State:Store = redis</c>, alternating for <c>--rounds</c>, so both stores are
/// measured in the same run on the same box. Prints each run and the median rates' ratio
/// (issue 18.6: redis ≥ 0.9× memory). Without <c>--redis</c> it starts its own redis-server on a
/// free loopback port and stops it (by PID) at the end. Load generator and engine share this
/// process; the figure to read is the ratio, not the absolute rate.
/// </summary>
internal static class StickyBench
{
    private const string Usage = """
        usage: LoadTests sticky [--sessions 1000] [--connections 64] [--duration 8] [--warmup 3] [--rounds 3]
                                [--redis 127.0.0.1:6379 (default: its own redis-server)]
                                [--lease-ms 2000: the near cache's lease; 0 = off, a Redis round trip per request]
        """;

    public static async Task<int> RunAsync(string[] args, IPEndPoint origin)
    {
        Dictionary<string, string> values;
        try
        {
            values = LoadOptions.Pairs(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        int Int(string name, int fallback) => values.TryGetValue(name, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int sessions = Int("sessions", 1000);
        int connections = Int("connections", 64);
        var duration = TimeSpan.FromSeconds(Int("duration", 8));
        var warmup = TimeSpan.FromSeconds(Int("warmup", 3));
        int rounds = Math.Clamp(Int("rounds", 3), 1, 20);
        var lease = TimeSpan.FromMilliseconds(Int("lease-ms", 2000));

        await using RedisChild? own = values.TryGetValue("redis", out string? given) ? null : await RedisChild.StartAsync();
        string redis = given ?? own!.Address;
        byte[][] requests = [.. Enumerable.Range(0, Math.Max(1, sessions)).Select(i => Request(origin, sessions == 0 ? "country-us" : $"country-us-session-s{i}"))];

        var rates = new Dictionary<string, List<double>> { ["memory"] = [], ["redis"] = [] };
        var cpu = new Dictionary<string, List<double>> { ["memory"] = [], ["redis"] = [] };
        // Round 0 is not counted: the first runs of a fresh process measure the JIT (issue 18.1), not the store.
        for (int round = 0; round <= rounds; round++)
        {
            // Each round swaps which store goes first, so neither always runs on the warmer process.
            foreach (string store in round % 2 == 1 ? new[] { "memory", "redis" } : ["redis", "memory"])
            {
                (double rate, double cpuPerRequest, long errors, string note) = await OneRunAsync(store, redis, own?.Pid, lease, origin, requests, connections, warmup, duration);
                if (round > 0)
                {
                    rates[store].Add(rate);
                    cpu[store].Add(cpuPerRequest);
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"round={(round == 0 ? "0 (warm-up, not counted)" : round.ToString(CultureInfo.InvariantCulture))} store={store} lease_ms={lease.TotalMilliseconds:0} sessions={sessions} connections={connections} rate={rate:0} per_s cpu_us_per_req={cpuPerRequest:0.0} errors={errors}{note}"));
            }
        }

        double memory = Stats.Median(rates["memory"]);
        double shared = Stats.Median(rates["redis"]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median memory={memory:0} redis={shared:0} per_s ratio={shared / memory:0.00} (target >= 0.90)"));
        // On a box others are loading, the rate follows their load; CPU per request (this process,
        // load generator included, plus redis-server) follows only the work each store adds.
        double memoryCpu = Stats.Median(cpu["memory"]);
        double sharedCpu = Stats.Median(cpu["redis"]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median cpu_us_per_req memory={memoryCpu:0.0} redis={sharedCpu:0.0} (with redis-server) ratio={memoryCpu / sharedCpu:0.00} (memory/redis: the rate ratio on an otherwise idle CPU-bound box)"));
        return 0;
    }

    private static async Task<(double Rate, double CpuPerRequest, long Errors, string Note)> OneRunAsync(string store, string redis, int? redisPid, TimeSpan lease, IPEndPoint origin, byte[][] requests, int connections, TimeSpan warmup, TimeSpan duration)
    {
        string json = $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:0", "Protocol": "http" } ],
                "Security": { "AllowPrivateTargets": true, "AuthFailuresPerMinute": 0 },
                "Packages": [ { "Id": "bench", "Key": "bench-key", "DefaultRules": "country-any" } ],
                "Nodes": [
                  { "Id": "us1", "Type": "direct", "Country": "us" }, { "Id": "us2", "Type": "direct", "Country": "us" },
                  { "Id": "us3", "Type": "direct", "Country": "us" }, { "Id": "us4", "Type": "direct", "Country": "us" } ] } }
            """;
        IConfigurationRoot configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        EngineConfigResult config = EngineConfigReader.Read(configuration);
        IStateStore state = store == "memory"
            ? new MemoryStateStore(TimeProvider.System)
            : await RedisStateStore.ConnectAsync(
                new RedisStateOptions { Configuration = redis, KeyPrefix = $"bench{Guid.NewGuid():N}:", SessionLease = lease }, TimeProvider.System, NullLogger.Instance);
        var server = new ProxyServer(ProxyServicesFactory.Create(config.Options, accessLog: null, state), 100_000);
        try
        {
            server.Start(ProxyServicesFactory.Listeners(config.Options));
            IPEndPoint proxy = server.EndPoints[0];
            await LoadAsync(proxy, requests, connections, warmup);
            double cpuBefore = ProcStat.CpuSeconds(Environment.ProcessId) + (redisPid is int pid ? ProcStat.CpuSeconds(pid) : 0);
            (long ok, long errors, TimeSpan elapsed) = await LoadAsync(proxy, requests, connections, duration);
            double cpuSeconds = ProcStat.CpuSeconds(Environment.ProcessId) + (redisPid is int after ? ProcStat.CpuSeconds(after) : 0) - cpuBefore;
            string note = state is RedisStateStore shared
                ? string.Create(CultureInfo.InvariantCulture, $" degraded_transitions={shared.DegradedTransitions} held_leases={((Engine.Sessions.RedisSessionStore)shared.Sessions).HeldLeases}")
                : string.Empty;
            return (ok / elapsed.TotalSeconds, ok > 0 ? cpuSeconds * 1e6 / ok : 0, errors, note);
        }
        finally
        {
            try
            {
                await server.DisposeAsync();
            }
            catch (ObjectDisposedException e)
            {
                // Transport/SocketConnection.Abort can meet a connection that closed meanwhile; not what is measured here.
                Console.Error.WriteLine($"server stop: {e.Message}");
            }

            await state.DisposeAsync();
        }
    }

    private static async Task<(long Ok, long Errors, TimeSpan Elapsed)> LoadAsync(IPEndPoint proxy, byte[][] requests, int connections, TimeSpan duration)
    {
        long ok = 0, errors = 0, next = 0;
        using var stop = new CancellationTokenSource(duration);
        long started = Stopwatch.GetTimestamp();

        async Task Worker()
        {
            HttpLoadClient? client = null;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        client ??= await HttpLoadClient.ConnectAsync(proxy, stop.Token);
                        byte[] request = requests[(int)(Interlocked.Increment(ref next) % requests.Length)];
                        await client.SendAsync(request, stop.Token);
                        (int status, _) = await client.ReadResponseAsync(stop.Token);
                        if (status == 200)
                        {
                            Interlocked.Increment(ref ok);
                            continue;
                        }
                    }
                    catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException)
                    {
                        if (stop.IsCancellationRequested)
                        {
                            break;
                        }
                    }

                    Interlocked.Increment(ref errors);
                    client?.Dispose();
                    client = null;
                }
            }
            finally
            {
                client?.Dispose();
            }
        }

        await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Task.Run(Worker)));
        return (ok, errors, Stopwatch.GetElapsedTime(started));
    }

    private static byte[] Request(IPEndPoint origin, string rules) => Encoding.ASCII.GetBytes(
        $"GET http://{origin}/small HTTP/1.1\r\nHost: {origin}\r\nUser-Agent: LoadTests\r\n" +
        $"Proxy-Authorization: Basic {Convert.ToBase64String(Encoding.ASCII.GetBytes(rules + ":bench-key"))}\r\n\r\n");

    /// <summary>A redis-server of this run's own on a free loopback port, no persistence; stopped by its PID.</summary>
    private sealed class RedisChild : IAsyncDisposable
    {
        private readonly Process _process;

        private RedisChild(Process process, int port)
        {
            _process = process;
            Address = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        }

        public string Address { get; }

        public int Pid => _process.Id;

        public static async Task<RedisChild> StartAsync()
        {
            var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
            foreach (string arg in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
            {
                start.ArgumentList.Add(arg);
            }

            Process process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
            _ = process.StandardOutput.ReadToEndAsync();
            for (int i = 0; i < 100; i++)
            {
                try
                {
                    using var client = new System.Net.Sockets.TcpClient();
                    await client.ConnectAsync(IPAddress.Loopback, port);
                    return new RedisChild(process, port);
                }
                catch (System.Net.Sockets.SocketException)
                {
                    await Task.Delay(50);
                }
            }

            process.Kill();
            throw new InvalidOperationException($"redis-server did not listen on {port} within 5 s");
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }
}
