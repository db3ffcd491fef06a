using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Engine.Connection;
using Engine.Hosting;
using Engine.State;
using Microsoft.Extensions.Configuration;

namespace LoadTests;

/// <summary>
/// A bounded soak (issue 9): the engine in this process (so its heap and unobserved task
/// exceptions can be read), hammered for --duration by --connections workers mixing plain
/// requests, tunnels, wrong keys, unmatched rules, a rate-limited package, sessions that rotate
/// every three requests, and a node that refuses every connection (failover). Afterwards: sockets
/// back to the post-warm-up baseline, heap and RSS within a margin of it, no unobserved task
/// exception, and every request accounted (completed + rejected + failed = sent, failed = 0).
/// </summary>
internal static class Soak
{
    private static readonly string[] Kinds = ["get", "tunnel", "wrong-key", "no-match", "limited", "session"];

    public static async Task<int> RunAsync(LoadOptions o, IPEndPoint origin)
    {
        int unobserved = 0;
        TaskScheduler.UnobservedTaskException += (_, _) => Interlocked.Increment(ref unobserved);
        int closedPort = ClosedPort();
        string json = $$"""
            { "Engine": {
                "Listeners": [ { "Endpoint": "127.0.0.1:0", "Protocol": "http" } ],
                "Security": { "AllowPrivateTargets": true, "AllowedConnectPorts": [ {{origin.Port}} ], "AuthFailuresPerMinute": 0 },
                "Packages": [
                  { "Id": "soak", "Key": "soak-key", "DefaultRules": "country-any" },
                  { "Id": "slow", "Key": "slow-key", "DefaultRules": "country-any", "RequestsPerSecond": 50 } ],
                "Nodes": [
                  { "Id": "a", "Type": "direct", "Country": "us" },
                  { "Id": "b", "Type": "direct", "Country": "us" },
                  { "Id": "dead", "Type": "http", "Address": "127.0.0.1:{{closedPort}}", "Country": "us" } ],
                "Routing": { "FailuresToEject": 1000 } } }
            """;
        await using InProcessEngine? engine = InProcessEngine.Start(json);
        if (engine is null)
        {
            return 2;
        }

        ProxyServer server = engine.Server;
        IPEndPoint proxy = server.EndPoints[0];

        long sent = 0, completed = 0, rejected = 0, failed = 0;
        var byKind = new long[Kinds.Length];
        TimeSpan warmUp = TimeSpan.FromSeconds(Math.Min(10, o.Duration.TotalSeconds / 6));
        using var stop = new CancellationTokenSource(o.Duration);
        var clock = Stopwatch.StartNew();
        Snapshot? baseline = null;

        async Task Worker(int worker)
        {
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                int kind = (int)((worker + i) % Kinds.Length);
                Interlocked.Increment(ref sent);
                Interlocked.Increment(ref byKind[kind]);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try
                {
                    int status = await OneAsync(proxy, origin, Kinds[kind], worker, timeout.Token);
                    Interlocked.Increment(ref status is >= 200 and < 300 ? ref completed : ref rejected);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.Sockets.SocketException)
                {
                    Interlocked.Increment(ref failed);
                    Console.Error.WriteLine($"failed {Kinds[kind]}: {e.GetType().Name} {e.Message}");
                }
            }
        }

        Task sampler = Task.Run(async () =>
        {
            await Task.Delay(warmUp);
            baseline = Snapshot.Take(server);
        });
        await Task.WhenAll(Enumerable.Range(0, o.Connections).Select(w => Task.Run(() => Worker(w))));
        await sampler;
        TimeSpan elapsed = clock.Elapsed;

        // Let the engine finish what it is closing, then compare with the post-warm-up figures.
        for (int i = 0; i < 200 && server.OpenConnections > 0; i++)
        {
            await Task.Delay(50);
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Snapshot end = Snapshot.Take(server);
        Snapshot start = baseline ?? end;

        var problems = new List<string>();
        if (sent != completed + rejected + failed)
        {
            problems.Add($"accounting: sent {sent} != completed {completed} + rejected {rejected} + failed {failed}");
        }

        if (failed > 0)
        {
            problems.Add($"{failed} requests failed without an answer");
        }

        if (end.OpenConnections != 0)
        {
            problems.Add($"{end.OpenConnections} engine connections still open");
        }

        if (end.Descriptors > start.Descriptors + 16)
        {
            problems.Add($"descriptors {start.Descriptors} -> {end.Descriptors}");
        }

        if (end.HeapBytes > Math.Max(start.HeapBytes * 3 / 2, start.HeapBytes + (32L << 20)))
        {
            problems.Add($"heap {start.HeapBytes >> 20} MB -> {end.HeapBytes >> 20} MB");
        }

        if (end.RssBytes > (start.RssBytes * 3 / 2) + (64L << 20))
        {
            problems.Add($"RSS {start.RssBytes >> 20} MB -> {end.RssBytes >> 20} MB");
        }

        if (Volatile.Read(ref unobserved) > 0)
        {
            problems.Add($"{unobserved} unobserved task exceptions");
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"scenario=soak seconds={elapsed.TotalSeconds:0} sent={sent} completed={completed} rejected={rejected} failed={failed} rate={sent / elapsed.TotalSeconds:0} per_s " +
            $"fds={start.Descriptors}->{end.Descriptors} heap_mb={start.HeapBytes >> 20}->{end.HeapBytes >> 20} rss_mb={start.RssBytes >> 20}->{end.RssBytes >> 20} " +
            $"open_connections={end.OpenConnections} unobserved={unobserved} mix={string.Join(',', Kinds.Select((k, i) => $"{k}:{byKind[i]}"))}"));
        foreach (string problem in problems)
        {
            Console.WriteLine("soak problem: " + problem);
        }

        return problems.Count == 0 ? 0 : 1;
    }

    private static async Task<int> OneAsync(IPEndPoint proxy, IPEndPoint origin, string kind, int worker, CancellationToken token)
    {
        (string user, string key) = kind switch
        {
            "wrong-key" => ("country-us", "not-a-key"),
            "no-match" => ("country-fr", "soak-key"),
            "limited" => ("country-us", "slow-key"),
            "session" => ($"country-us-session-w{worker}-rotate-requests_3", "soak-key"),
            _ => ("country-us", "soak-key"),
        };
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes(user + ":" + key)) + "\r\n";
        using HttpLoadClient client = await HttpLoadClient.ConnectAsync(proxy, token);
        if (kind is "tunnel" or "session")
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n{auth}\r\n"), token);
            int connect = await client.ReadHeadAsync(token);
            if (connect != 200)
            {
                return connect > 0 ? connect : throw new IOException("tunnel closed before an answer");
            }

            await client.SendAsync(Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {origin}\r\nConnection: close\r\n\r\n"), token);
        }
        else
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"GET http://{origin}/small HTTP/1.1\r\nHost: {origin}\r\n{auth}Connection: close\r\n\r\n"), token);
        }

        (int status, _) = await client.ReadResponseAsync(token);
        return status > 0 ? status : throw new IOException("closed before an answer");
    }

    private static int ClosedPort()
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private sealed record Snapshot(long OpenConnections, int Descriptors, long HeapBytes, long RssBytes)
    {
        public static Snapshot Take(ProxyServer server)
        {
            int descriptors = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : -1;
            long rss = 0;
            if (File.Exists("/proc/self/status"))
            {
                string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (line is not null)
                {
                    rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }

            return new Snapshot(server.OpenConnections, descriptors, GC.GetTotalMemory(forceFullCollection: true), rss);
        }
    }
}
