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
/// every three requests, and a pool with a node that refuses every connection (failover).
/// Every kind has the answers it may get, status and catalog code (issue 16.5): anything else,
/// a close or a timeout included, is a problem reported by kind and answer. Afterwards: sockets
/// back to the post-warm-up baseline, heap and RSS within a margin of it, no unobserved task
/// exception, and every request accounted.
/// </summary>
internal static class Soak
{
    /// <param name="User">The rules; <c>{w}</c> becomes the worker's number.</param>
    /// <param name="Expected">Every answer this kind may get, as <see cref="Outcomes.Label(int, string?)"/> spells it.</param>
    internal sealed record Kind(string Name, string User, string Key, bool Tunnel, string[] Expected);

    internal static readonly Kind[] Kinds =
    [
        new("get", "country-us", "soak-key", Tunnel: false, ["200"]),
        new("tunnel", "country-us", "soak-key", Tunnel: true, ["200"]),
        new("wrong-key", "country-us", "not-a-key", Tunnel: false, ["407 AUTH_FAILED"]),
        new("no-match", "country-fr", "soak-key", Tunnel: false, ["502 NODE_NOT_FOUND"]),
        new("limited", "country-us", "slow-key", Tunnel: false, ["200", "429 RATE_LIMIT_EXCEEDED"]),
        new("session", "country-us-session-w{w}-rotate-requests_3", "soak-key", Tunnel: true, ["200"]),
        // Germany has one live and one dead node: the default onerror-replace fails over to 200;
        // onerror-fail answers the documented NODE_UNAVAILABLE when the dead one was picked.
        new("dead-node", "country-de", "soak-key", Tunnel: false, ["200"]),
        new("dead-node-fail", "country-de-onerror-fail", "soak-key", Tunnel: false, ["200", "502 NODE_UNAVAILABLE"]),
    ];

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
                  { "Id": "dead", "Type": "http", "Address": "127.0.0.1:{{closedPort}}", "Country": "us" },
                  { "Id": "de-live", "Type": "direct", "Country": "de" },
                  { "Id": "de-dead", "Type": "http", "Address": "127.0.0.1:{{closedPort}}", "Country": "de" } ],
                "Routing": { "FailuresToEject": 1000 } } }
            """;
        await using InProcessEngine? engine = InProcessEngine.Start(json);
        if (engine is null)
        {
            return 2;
        }

        ProxyServer server = engine.Server;
        IPEndPoint proxy = server.EndPoints[0];

        long sent = 0;
        Outcomes[] answers = [.. Kinds.Select(_ => new Outcomes())];
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
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                string answer;
                try
                {
                    answer = await OneAsync(proxy, origin, Kinds[kind], worker, timeout.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.Sockets.SocketException)
                {
                    answer = Outcomes.Label(e);
                }

                answers[kind].Add(answer);
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
        long accounted = answers.Sum(a => a.Total);
        if (sent != accounted)
        {
            problems.Add($"accounting: sent {sent} != answers counted {accounted}");
        }

        problems.AddRange(Unexpected(answers));

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
            $"scenario=soak seconds={elapsed.TotalSeconds:0} sent={sent} rate={sent / elapsed.TotalSeconds:0} per_s " +
            $"fds={start.Descriptors}->{end.Descriptors} heap_mb={start.HeapBytes >> 20}->{end.HeapBytes >> 20} rss_mb={start.RssBytes >> 20}->{end.RssBytes >> 20} " +
            $"open_connections={end.OpenConnections} unobserved={unobserved}"));
        for (int k = 0; k < Kinds.Length; k++)
        {
            Console.WriteLine($"  {Kinds[k].Name}: {answers[k].Render()}");
        }

        foreach (string problem in problems)
        {
            Console.WriteLine("soak problem: " + problem);
        }

        return problems.Count == 0 ? 0 : 1;
    }

    /// <summary>One problem line per kind that got an answer outside its expected ones.</summary>
    internal static IEnumerable<string> Unexpected(IReadOnlyList<Outcomes> answers)
    {
        for (int k = 0; k < Kinds.Length; k++)
        {
            Outcomes wrong = answers[k].Except(Kinds[k].Expected);
            if (!wrong.IsEmpty)
            {
                yield return $"{Kinds[k].Name} expected {string.Join(" or ", Kinds[k].Expected)}, got {wrong.Render()}";
            }
        }
    }

    /// <returns>The answer's label: the CONNECT's when it was refused, else the GET's.</returns>
    private static async Task<string> OneAsync(IPEndPoint proxy, IPEndPoint origin, Kind kind, int worker, CancellationToken token)
    {
        string user = kind.User.Replace("{w}", worker.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes(user + ":" + kind.Key)) + "\r\n";
        using HttpLoadClient client = await HttpLoadClient.ConnectAsync(proxy, token);
        if (kind.Tunnel)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n{auth}\r\n"), token);
            int connect = await client.ReadHeadAsync(token);
            if (connect != 200)
            {
                return Outcomes.Label(connect, client.ProxyError);
            }

            await client.SendAsync(Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {origin}\r\nConnection: close\r\n\r\n"), token);
        }
        else
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"GET http://{origin}/small HTTP/1.1\r\nHost: {origin}\r\n{auth}Connection: close\r\n\r\n"), token);
        }

        (int status, _) = await client.ReadResponseAsync(token);
        return Outcomes.Label(status, client.ProxyError);
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
