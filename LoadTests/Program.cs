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
                         [--pid N: report that proxy process's CPU per operation and RSS]
                         [--metrics http://127.0.0.1:PORT/metrics --admin-token T: the engine's GC
                          collections and allocated bytes per operation during the run, from its admin listener]
                         [--raw 1: --proxy is a TCP relay (origin-form requests, no CONNECT)]
          get         keep-alive GETs (absolute-URI through --proxy, origin-form without it)
          storm       keep-alive requests with a wrong key (--auth user:wrong): the 407 path's rate
          tunnel      CONNECT (or a direct connection) then download --bytes; reports MB/s
          connect     --requests tunnels: CONNECT + GET /small + close; reports tunnels/s
          (tunnel and connect take --socks 1: the tunnel opens with a SOCKS5 handshake instead)
          ci          every scenario for seconds against an engine in this process; one markdown table
          idle        hold --connections idle connections (--tunnels 1: CONNECT tunnels) to --proxy for
                      --duration; reports the proxy's RSS per connection (--pid)
          soak        the engine in this process under a mixed load for --duration, then checks
                      sockets, heap, RSS, unobserved exceptions and request accounting (exit 1 on a problem)
          origin      run the built-in origin on --origin for --duration seconds (for wrk)
          sticky      keep-alive GETs over --sessions sticky sessions through an in-process engine, memory
                      store then redis, alternating --rounds times; the redis/memory ratio (sticky --help)
          peers       (or --peers) the engine side by side with squid, haproxy, trafficserver, tinyproxy
                      and proxy-chain, all pinned; one markdown table with ratios (LoadTests peers --help)
        """;

    public static async Task<int> Main(string[] args)
    {
        // The load generator gets the engine's treatment (Engine/Program.cs): socket completions
        // on the epoll thread, no thread-pool hop per response. Pinned to one core next to the
        // origin, the default scheduling capped it near 15k req/s, below what the proxies serve.
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
        {
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }

        if (args.Length > 0 && args[0] is "peers" or "--peers")
        {
            return await PeerBench.RunAsync(args);   // its own options (and --help)
        }

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
                return Report(await Measured(options, () => Scenarios.KeepAliveGetAsync(options, origin)));
            case "storm":
                return Report(await Measured(options, () => Scenarios.KeepAliveGetAsync(options, origin, expectedStatus: 407)));
            case "tunnel":
                // --path names a file to download (the peers' nginx serves /big); without it, the built-in origin's /bytes/{--bytes}.
                return Report(await Measured(options, () => Scenarios.TunnelThroughputAsync(options, origin, options.Path == "/small" ? null : options.Path)));
            case "connect":
                return Report(await Measured(options, () => Scenarios.ConnectRateAsync(options, origin)));
            case "soak":
                return await Soak.RunAsync(options, origin);
            case "idle":
                return await IdleHold.RunAsync(options, origin);
            case "ci":
                return await CiSmoke.RunAsync(origin);
            case "sticky":
                return await StickyBench.RunAsync(args, origin);
            default:
                Console.Error.WriteLine($"unknown scenario '{options.Scenario}'");
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }

    /// <summary>
    /// With --pid, the proxy process's CPU time and RSS around the run (from /proc); with --metrics,
    /// the engine's GC figures around it (two scrapes of its admin listener).
    /// </summary>
    private static async Task<RunResult> Measured(LoadOptions o, Func<Task<RunResult>> run)
    {
        using EngineMetricsClient? metrics = o.Metrics is null ? null : new EngineMetricsClient(o.Metrics, o.AdminToken);
        RuntimeCounters? gcBefore = metrics is null ? null : await metrics.ReadAsync(CancellationToken.None);
        double cpuBefore = o.Pid > 0 ? ProcStat.CpuSeconds(o.Pid) : 0;
        RunResult result = await run();
        if (o.Pid > 0)
        {
            result = result with { ProxyCpuSeconds = ProcStat.CpuSeconds(o.Pid) - cpuBefore, ProxyRssBytes = ProcStat.RssBytes(o.Pid) };
        }

        if (metrics is not null && gcBefore is { } before && await metrics.ReadAsync(CancellationToken.None) is { } after)
        {
            result = result with { EngineGc = after - before };
        }

        return result;
    }

    private static int Report(RunResult result)
    {
        Console.WriteLine(Line(result));
        return result.Errors > 0 && result.Ok == 0 ? 1 : 0;
    }

    /// <summary>The run's one line: <c>key=value</c> pairs the scripts and docs read.</summary>
    internal static string Line(RunResult result)
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
                $" p50_us={h.GetValueAtPercentile(50) / 1000.0:0} p90_us={h.GetValueAtPercentile(90) / 1000.0:0} p99_us={h.GetValueAtPercentile(99) / 1000.0:0} p999_us={h.GetValueAtPercentile(99.9) / 1000.0:0} max_us={h.GetMaxValue() / 1000.0:0}");
        }

        if (result.ProxyCpuSeconds is double cpu)
        {
            // CPU per operation is the figure that compares across machines and peers (issue 8).
            line.Append(CultureInfo.InvariantCulture, $" proxy_cpu_s={cpu:0.00} proxy_cpu_us_per_op={(result.Ok > 0 ? cpu * 1e6 / result.Ok : 0):0.0}");
            if (result.Bytes > 0)
            {
                line.Append(CultureInfo.InvariantCulture, $" proxy_cpu_s_per_gib={cpu / (result.Bytes / (double)(1L << 30)):0.00}");
            }

            line.Append(CultureInfo.InvariantCulture, $" proxy_rss_mb={result.ProxyRssBytes >> 20}");
        }

        if (result.EngineGc is { } gc)
        {
            line.Append(CultureInfo.InvariantCulture,
                $" gc0={gc.Gen0} gc1={gc.Gen1} gc2={gc.Gen2} gc_pause_ms={gc.PauseSeconds * 1e3:0.0} alloc_b_per_op={(result.Ok > 0 ? gc.AllocatedBytes / (double)result.Ok : 0):0}");
            if (result.Bytes > 0)
            {
                line.Append(CultureInfo.InvariantCulture, $" alloc_b_per_mib={gc.AllocatedBytes / (result.Bytes / (double)(1 << 20)):0}");
            }
        }

        if (result.Errors > 0)
        {
            // What the errors were (status and catalog code, or how the exchange ended): a count
            // alone does not say whether the proxy refused, the target failed or the client ran out of ports.
            line.Append(" unexpected=\"").Append(result.Unexpected.IsEmpty ? "unrecorded" : result.Unexpected.Render()).Append('"');
        }

        return line.ToString();
    }
}

internal sealed record RunResult(string Scenario, string Mode, long Ok, long Errors, long Bytes, TimeSpan Elapsed, HistogramBase Latency)
{
    public double? ProxyCpuSeconds { get; init; }

    public long ProxyRssBytes { get; init; }

    /// <summary>What the engine's runtime did during the run (collections, bytes allocated), from its /metrics.</summary>
    public RuntimeCounters? EngineGc { get; init; }

    /// <summary>The answers counted in <see cref="Errors"/>, by status and catalog code (or how the exchange ended).</summary>
    public Outcomes Unexpected { get; init; } = new();
}

internal static class Scenarios
{
    // Latencies in nanoseconds up to 60 s, 3 significant digits (HdrHistogram's usual setting).
    private static LongHistogram NewHistogram() => new(TimeSpan.FromSeconds(60).Ticks * 100, 3);

    private static long ElapsedNanos(long start) => (long)(Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1_000_000);

    private static string AuthHeader(LoadOptions o) => o.ProxyAuth is null
        ? string.Empty
        : "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(o.ProxyAuth)) + "\r\n";

    /// <param name="expectedStatus">200 for the get scenario; 407 for the error storm (wrong keys).</param>
    /// <param name="expectedCode">
    /// The <c>X-Proxy-Error</c> the expected answer carries (AUTH_FAILED for the engine's storm); null: none
    /// is checked on a non-200 (peers answer 407 in their own words) and a 200 must carry none.
    /// </param>
    public static async Task<RunResult> KeepAliveGetAsync(LoadOptions o, IPEndPoint origin, int expectedStatus = 200, string? expectedCode = null, CancellationToken cancellationToken = default)
    {
        var unexpected = new Outcomes();
        string target = o.Proxy is null || o.Raw ? o.Path : $"http://{origin}{o.Path}";
        byte[] request = Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {origin}\r\nUser-Agent: LoadTests\r\n{AuthHeader(o)}\r\n");
        IPEndPoint connectTo = o.Proxy ?? origin;
        LongHistogram histogram = NewHistogram();
        long ok = 0, errors = 0, budget = o.MaxRequests;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(o.Duration);
        long started = Stopwatch.GetTimestamp();

        async Task Worker()
        {
            var local = NewHistogram();
            HttpLoadClient? client = null;
            try
            {
                while (!stop.IsCancellationRequested && Interlocked.Decrement(ref budget) >= 0)
                {
                    try
                    {
                        client ??= await HttpLoadClient.ConnectAsync(connectTo, stop.Token);
                        long t0 = Stopwatch.GetTimestamp();
                        await client.SendAsync(request, stop.Token);
                        (int status, _) = await client.ReadResponseAsync(stop.Token);
                        bool codeMatches = expectedCode is not null ? client.ProxyError == expectedCode
                            : expectedStatus != 200 || client.ProxyError is null;
                        if (status == expectedStatus && codeMatches)
                        {
                            local.RecordValue(ElapsedNanos(t0));
                            Interlocked.Increment(ref ok);
                            continue;
                        }

                        unexpected.Add(Outcomes.Label(status, client.ProxyError));
                    }
                    catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException)
                    {
                        if (stop.IsCancellationRequested)
                        {
                            break;
                        }

                        unexpected.Add(Outcomes.Label(e));
                    }

                    // A wrong status, a close or a reset (tinyproxy closes after every response): counted,
                    // and the worker goes on with a new connection, as wrk does. A refused connect waits
                    // 10 ms first, so a proxy that is down costs errors, not a spinning core.
                    Interlocked.Increment(ref errors);
                    if (client is null)
                    {
                        await Task.Delay(10, CancellationToken.None);
                    }

                    client?.Dispose();
                    client = null;
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
        return new RunResult(expectedStatus == 200 ? "get" : "storm", o.Proxy is null ? "direct" : Mode(o), ok, errors, 0, Stopwatch.GetElapsedTime(started), histogram)
        {
            Unexpected = unexpected,
        };
    }

    /// <param name="path">What to download: by default the built-in origin's <c>/bytes/{--bytes}</c>; the peers' nginx serves <c>/big</c>.</param>
    public static async Task<RunResult> TunnelThroughputAsync(LoadOptions o, IPEndPoint origin, string? path = null, CancellationToken cancellationToken = default)
    {
        LongHistogram histogram = NewHistogram();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(o.Duration);
        long started = Stopwatch.GetTimestamp();
        using HttpLoadClient client = await HttpLoadClient.ConnectAsync(o.Proxy ?? origin, stop.Token);
        var unexpected = new Outcomes();
        if (o.Proxy is not null && !o.Raw && await OpenTunnelAsync(client, o, origin, stop.Token) is { } refused)
        {
            unexpected.Add(refused);
            return new RunResult("tunnel", Mode(o), 0, 1, 0, Stopwatch.GetElapsedTime(started), histogram) { Unexpected = unexpected };
        }

        long t0 = Stopwatch.GetTimestamp();
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET {path ?? $"/bytes/{o.Bytes}"} HTTP/1.1\r\nHost: {origin}\r\n\r\n"), stop.Token);
        (int code, long body) = await client.ReadResponseAsync(stop.Token);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(t0);
        histogram.RecordValue(ElapsedNanos(t0));
        bool complete = code == 200 && body == o.Bytes;
        if (!complete)
        {
            unexpected.Add(code == 200 ? string.Create(CultureInfo.InvariantCulture, $"200 cut at {body} bytes") : Outcomes.Label(code, client.ProxyError));
        }

        return new RunResult("tunnel", o.Proxy is null ? "direct" : Mode(o), complete ? 1 : 0, complete ? 0 : 1, body, elapsed, histogram) { Unexpected = unexpected };
    }

    private static string Mode(LoadOptions o) => o.Raw ? "raw" : o.Socks ? "socks5" : "proxy";

    /// <summary>CONNECT (200 expected) or, with --socks, a SOCKS5 handshake: username/password from --auth, IPv4 CONNECT.</summary>
    /// <returns>Null when the tunnel is open, else what answered instead (<see cref="Outcomes"/>' label).</returns>
    private static async Task<string?> OpenTunnelAsync(HttpLoadClient client, LoadOptions o, IPEndPoint origin, CancellationToken cancellationToken)
    {
        if (!o.Socks)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n{AuthHeader(o)}\r\n"), cancellationToken);
            int status = await client.ReadHeadAsync(cancellationToken);
            return status == 200 ? null : Outcomes.Label(status, client.ProxyError);
        }

        string[] credentials = (o.ProxyAuth ?? ":").Split(':', 2);
        byte[] user = Encoding.ASCII.GetBytes(credentials[0]);
        byte[] password = Encoding.ASCII.GetBytes(credentials.Length > 1 ? credentials[1] : "");
        byte[] address = origin.Address.MapToIPv4().GetAddressBytes();
        byte[] handshake = [5, 1, 2, 1, (byte)user.Length, .. user, (byte)password.Length, .. password,
            5, 1, 0, 1, .. address, (byte)(origin.Port >> 8), (byte)origin.Port];
        // Greeting, credentials and request in one write: the engine parses each from the pipe in turn.
        await client.SendAsync(handshake, cancellationToken);
        byte[] replies = new byte[2 + 2 + 10];
        for (int filled = 0; filled < replies.Length;)
        {
            int n = await client.Socket.ReceiveAsync(replies.AsMemory(filled), System.Net.Sockets.SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                return "closed";
            }

            filled += n;
        }

        return replies[1] == 2 && replies[3] == 0 && replies[5] == 0
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"socks5 method {replies[1]} auth {replies[3]} reply {replies[5]}");
    }

    /// <summary>New connection per request: CONNECT (or SOCKS5) + GET /small + close; with --raw a plain connection + GET + close.</summary>
    public static async Task<RunResult> ConnectRateAsync(LoadOptions o, IPEndPoint origin, CancellationToken cancellationToken = default)
    {
        if (o.Proxy is null)
        {
            throw new ArgumentException("connect needs --proxy");
        }

        byte[] get = Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {origin}\r\nConnection: close\r\n\r\n");
        var unexpected = new Outcomes();
        LongHistogram histogram = NewHistogram();
        long ok = 0, errors = 0;
        long budget = o.MaxRequests == long.MaxValue ? 2000 : o.MaxRequests;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(o.Duration);
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
                    string? refused = o.Raw ? null : await OpenTunnelAsync(client, o, origin, stop.Token);
                    if (refused is null)
                    {
                        await client.SendAsync(get, stop.Token);
                        int status = (await client.ReadResponseAsync(stop.Token)).Status;
                        refused = status == 200 ? null : Outcomes.Label(status, client.ProxyError);
                    }

                    if (refused is null)
                    {
                        local.RecordValue(ElapsedNanos(t0));
                        Interlocked.Increment(ref ok);
                    }
                    else
                    {
                        Interlocked.Increment(ref errors);
                        unexpected.Add(refused);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException)
                {
                    if (!stop.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref errors);
                        unexpected.Add(Outcomes.Label(e));
                    }
                }
            }

            lock (histogram)
            {
                histogram.Add(local);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, o.Connections).Select(_ => Task.Run(Worker)));
        return new RunResult("connect", Mode(o), ok, errors, 0, Stopwatch.GetElapsedTime(started), histogram) { Unexpected = unexpected };
    }
}
