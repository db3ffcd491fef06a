using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using HdrHistogram;

namespace LoadTests;

/// <summary>
/// End-to-end load runner (NBomber is not on the reachable registry). Every run is bounded by
/// <c>--duration</c> and <c>--requests</c> and stops by itself. Without <c>--origin</c> it starts its
/// own origin on a loopback port; without <c>--proxy</c> it measures the origin directly, which is
/// the baseline every proxy figure should be read against (same run, same machine).
/// </summary>
internal static class LoadProgram
{
    private const string Usage = """
        usage: LoadTests <scenario> [--proxy IP:PORT] [--auth user:pass] [--origin IP:PORT]
                         [--connections N] [--duration S] [--requests N] [--bytes N] [--path /small]
          get         keep-alive GETs (absolute-URI through --proxy, origin-form without it)
          tunnel      CONNECT (or a direct connection) then download --bytes; reports MB/s
          connect     --requests tunnels: CONNECT + GET /small + close; reports tunnels/s
          origin      run the built-in origin on --origin for --duration seconds (for wrk)
        """;

    public static async Task<int> Main(string[] args)
    {
        LoadOptions options;
        try
        {
            options = LoadOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        if (options.Scenario is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return 0;
        }

        await using Origin? ownOrigin = options.Origin is null || options.Scenario == "origin"
            ? new Origin(options.Origin ?? new IPEndPoint(IPAddress.Loopback, 0))
            : null;
        IPEndPoint origin = options.Origin ?? ownOrigin!.EndPoint;

        switch (options.Scenario)
        {
            case "origin":
                Console.WriteLine($"origin listening on {ownOrigin!.EndPoint} for {options.Duration.TotalSeconds:0}s");
                await Task.Delay(options.Duration);
                return 0;
            case "get":
                return Report(await Scenarios.KeepAliveGetAsync(options, origin));
            case "tunnel":
                return Report(await Scenarios.TunnelThroughputAsync(options, origin));
            case "connect":
                return Report(await Scenarios.ConnectRateAsync(options, origin));
            default:
                Console.Error.WriteLine($"unknown scenario '{options.Scenario}'");
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }

    private static int Report(RunResult result)
    {
        HistogramBase h = result.Latency;
        var line = new StringBuilder();
        line.Append(CultureInfo.InvariantCulture, $"scenario={result.Scenario} mode={result.Mode} ok={result.Ok} errors={result.Errors} seconds={result.Elapsed.TotalSeconds:0.00}");
        line.Append(CultureInfo.InvariantCulture, $" rate={result.Ok / result.Elapsed.TotalSeconds:0} per_s");
        if (result.Bytes > 0)
        {
            line.Append(CultureInfo.InvariantCulture, $" mbps={result.Bytes / result.Elapsed.TotalSeconds / 1e6:0.0}");
        }

        if (h.TotalCount > 0)
        {
            line.Append(CultureInfo.InvariantCulture,
                $" p50_us={h.GetValueAtPercentile(50) / 1000.0:0} p90_us={h.GetValueAtPercentile(90) / 1000.0:0} p99_us={h.GetValueAtPercentile(99) / 1000.0:0} max_us={h.GetMaxValue() / 1000.0:0}");
        }

        Console.WriteLine(line.ToString());
        return result.Errors > 0 && result.Ok == 0 ? 1 : 0;
    }
}

internal sealed record RunResult(string Scenario, string Mode, long Ok, long Errors, long Bytes, TimeSpan Elapsed, HistogramBase Latency);

internal static class Scenarios
{
    // Latencies in nanoseconds up to 60 s, 3 significant digits (HdrHistogram's usual setting).
    private static LongHistogram NewHistogram() => new(TimeSpan.FromSeconds(60).Ticks * 100, 3);

    private static long ElapsedNanos(long start) => (long)(Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1_000_000);

    private static string AuthHeader(LoadOptions o) => o.ProxyAuth is null
        ? string.Empty
        : "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(o.ProxyAuth)) + "\r\n";

    public static async Task<RunResult> KeepAliveGetAsync(LoadOptions o, IPEndPoint origin)
    {
        string target = o.Proxy is null ? o.Path : $"http://{origin}{o.Path}";
        byte[] request = Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {origin}\r\nUser-Agent: LoadTests\r\n{AuthHeader(o)}\r\n");
        IPEndPoint connectTo = o.Proxy ?? origin;
        LongHistogram histogram = NewHistogram();
        long ok = 0, errors = 0, budget = o.MaxRequests;
        using var stop = new CancellationTokenSource(o.Duration);
        long started = Stopwatch.GetTimestamp();

        async Task Worker()
        {
            var local = NewHistogram();
            HttpLoadClient? client = null;
            try
            {
                while (!stop.IsCancellationRequested && Interlocked.Decrement(ref budget) >= 0)
                {
                    client ??= await HttpLoadClient.ConnectAsync(connectTo, stop.Token);
                    long t0 = Stopwatch.GetTimestamp();
                    await client.SendAsync(request, stop.Token);
                    (int status, _) = await client.ReadResponseAsync(stop.Token);
                    if (status == 200)
                    {
                        local.RecordValue(ElapsedNanos(t0));
                        Interlocked.Increment(ref ok);
                    }
                    else
                    {
                        Interlocked.Increment(ref errors);
                        client.Dispose();
                        client = null;
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException)
            {
                if (!stop.IsCancellationRequested)
                {
                    Interlocked.Increment(ref errors);
                }
            }
            finally
            {
                client?.Dispose();
                lock (histogram)
                {
                    histogram.Add(local);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, o.Connections).Select(_ => Task.Run(Worker)));
        return new RunResult("get", o.Proxy is null ? "direct" : "proxy", ok, errors, 0, Stopwatch.GetElapsedTime(started), histogram);
    }

    public static async Task<RunResult> TunnelThroughputAsync(LoadOptions o, IPEndPoint origin)
    {
        LongHistogram histogram = NewHistogram();
        using var stop = new CancellationTokenSource(o.Duration);
        long started = Stopwatch.GetTimestamp();
        using HttpLoadClient client = await HttpLoadClient.ConnectAsync(o.Proxy ?? origin, stop.Token);
        if (o.Proxy is not null)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n{AuthHeader(o)}\r\n"), stop.Token);
            int status = await client.ReadHeadAsync(stop.Token);
            if (status != 200)
            {
                return new RunResult("tunnel", "proxy", 0, 1, 0, Stopwatch.GetElapsedTime(started), histogram);
            }
        }

        long t0 = Stopwatch.GetTimestamp();
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET /bytes/{o.Bytes} HTTP/1.1\r\nHost: {origin}\r\n\r\n"), stop.Token);
        (int code, long body) = await client.ReadResponseAsync(stop.Token);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(t0);
        histogram.RecordValue(ElapsedNanos(t0));
        bool complete = code == 200 && body == o.Bytes;
        return new RunResult("tunnel", o.Proxy is null ? "direct" : "proxy", complete ? 1 : 0, complete ? 0 : 1, body, elapsed, histogram);
    }

    public static async Task<RunResult> ConnectRateAsync(LoadOptions o, IPEndPoint origin)
    {
        if (o.Proxy is null)
        {
            throw new ArgumentException("connect needs --proxy");
        }

        byte[] connect = Encoding.ASCII.GetBytes($"CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n{AuthHeader(o)}\r\n");
        byte[] get = Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {origin}\r\nConnection: close\r\n\r\n");
        LongHistogram histogram = NewHistogram();
        long ok = 0, errors = 0;
        long budget = o.MaxRequests == long.MaxValue ? 2000 : o.MaxRequests;
        using var stop = new CancellationTokenSource(o.Duration);
        long started = Stopwatch.GetTimestamp();

        async Task Worker()
        {
            var local = NewHistogram();
            while (!stop.IsCancellationRequested && Interlocked.Decrement(ref budget) >= 0)
            {
                long t0 = Stopwatch.GetTimestamp();
                try
                {
                    using HttpLoadClient client = await HttpLoadClient.ConnectAsync(o.Proxy, stop.Token);
                    await client.SendAsync(connect, stop.Token);
                    bool good = await client.ReadHeadAsync(stop.Token) == 200;
                    if (good)
                    {
                        await client.SendAsync(get, stop.Token);
                        good = (await client.ReadResponseAsync(stop.Token)).Status == 200;
                    }

                    if (good)
                    {
                        local.RecordValue(ElapsedNanos(t0));
                        Interlocked.Increment(ref ok);
                    }
                    else
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException)
                {
                    if (!stop.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
            }

            lock (histogram)
            {
                histogram.Add(local);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, o.Connections).Select(_ => Task.Run(Worker)));
        return new RunResult("connect", "proxy", ok, errors, 0, Stopwatch.GetElapsedTime(started), histogram);
    }
}
