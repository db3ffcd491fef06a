using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HdrHistogram;

namespace LoadTests;

/// <summary>
/// One <c>LoadTests peers</c> run: what it started (peers, the engine child), the targets that
/// answered, and the figures of every (repetition, scenario, target). Disposing stops what it
/// started.
/// </summary>
internal sealed class PeerRun : IAsyncDisposable
{
    // idle is not among them: it is measured once, on fresh processes, before anything else (MeasureIdleFreshAsync).
    private static readonly string[] ScenarioNames = ["get", "connect", "tunnel"];

    private readonly PeerOptions _o;
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("loadtests-peers-");
    private readonly PeerResults _results = new();
    private readonly List<PeerTarget> _targets = [];
    private readonly List<string> _notes = [];
    private PeerProcesses? _peers;
    private EngineChild? _engine;
    private string? _engineDll;
    private EngineMetricsClient? _metrics;
    private bool _keepEngineLog;

    public PeerRun(PeerOptions options) => _o = options;

    /// <summary>Set when the run failed (not when it was interrupted): the engine's output is copied out of the work directory before it goes.</summary>
    public void KeepEngineLog() => _keepEngineLog = true;

    private string Origin => _o.Origin.ToString();

    private static void Log(string message) =>
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_o.Pin)
        {
            // Every thread of this process (taskset -a): threads started later inherit it.
            (int exit, _) = await ExternalCommand.RunAsync("taskset", ["-a", "-p", "-c", "0", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)],
                TimeSpan.FromSeconds(10), cancellationToken: cancellationToken);
            Log(exit == 0 ? "load generator pinned to CPU 0" : "could not pin the load generator (taskset); running unpinned");
        }

        var wanted = new List<PeerTarget>();
        foreach (PeerTarget target in _o.Targets)
        {
            if (target.IsInstalled())
            {
                wanted.Add(target);
            }
            else
            {
                Note($"{target.Name}: not installed (run {_o.Scripts}/setup.sh), skipped");
            }
        }

        if (_o.Start)
        {
            IEnumerable<(string, int)> names = wanted.Where(t => !t.IsEngine).Select(t => (t.Name, t.Port)).Prepend(("origin", _o.Origin.Port));
            _peers = await PeerProcesses.StartAsync(_o.Scripts, names, _o.Pin, cancellationToken);
        }

        if (!await OriginServesAsync(cancellationToken))
        {
            throw new InvalidOperationException($"the origin {Origin} does not answer GET /small with 200 (start it with {_o.Scripts}/start-peers.sh origin, or drop --start 0)");
        }

        if (wanted.Any(t => t.IsEngine))
        {
            string dll = _engineDll = EngineChild.FindDll(_o.Engine);
            Log($"engine: {dll} on 127.0.0.1:{_o.EnginePort}{(_o.Pin ? ", CPU 1" : string.Empty)}, access log {(_o.AccessLog ? "on" : "off")}");
            _engine = await EngineChild.StartAsync(dll, _work, PeerTarget.Engine, _o.EnginePort, _o, _o.Budget, cancellationToken);
            _metrics = new EngineMetricsClient(_engine.Metrics, _engine.Token);
        }

        foreach (PeerTarget target in wanted)
        {
            if (await PeerProcesses.IsListeningAsync(target.Port, cancellationToken))
            {
                _targets.Add(target);
            }
            else
            {
                Note($"{target.Name}: nothing listens on {target.Port}, skipped");
            }
        }

        if (_targets.Count == 0)
        {
            throw new InvalidOperationException("no target to measure");
        }

        var described = new List<string>();
        foreach (PeerTarget target in _targets)
        {
            // The thread count says whether an unpinned HAProxy runs nbthread 2 (one per core).
            int pid = target.IsEngine ? _engine!.Pid : await PeerProcesses.PidOfAsync(target.Name, target.Port, cancellationToken);
            described.Add(pid > 0 && ProcessTree.IsAlive(pid) ? $"{target.Name}:{target.Port} ({ProcStat.Threads(pid)} threads)" : $"{target.Name}:{target.Port}");
        }

        Log($"targets: {string.Join(", ", described)}");
    }

    /// <summary>Tiered JIT needs ~20 s of load before the engine runs its final code; the load generator warms up with it.</summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        PeerTarget? engine = _targets.FirstOrDefault(t => t.IsEngine);
        if (engine is null || _o.Warmup <= TimeSpan.Zero)
        {
            return;
        }

        Log($"warm-up: keep-alive GETs against the engine for {_o.Warmup.TotalSeconds:0} s, then tunnels");
        RunResult get = await Scenarios.KeepAliveGetAsync(Options(engine, "get", "--duration", Seconds(_o.Warmup)), _o.Origin, cancellationToken: cancellationToken);
        RunResult connect = await Scenarios.ConnectRateAsync(Options(engine, "connect", "--duration", "10", "--requests", "1000000000"), _o.Origin, cancellationToken);
        RunResult tunnel = await Scenarios.TunnelThroughputAsync(Options(engine, "tunnel", "--duration", "30", "--bytes", Invariant(PeerOptions.BigBytes)), _o.Origin, "/big", cancellationToken);
        Log($"warm-up: {Rate(get):N0} req/s, {Rate(connect):N0} tunnels/s, {tunnel.Bytes / Math.Max(tunnel.Elapsed.TotalSeconds, 1e-9) / 1e6:N0} MB/s; errors {get.Errors + connect.Errors + tunnel.Errors}");
    }

    /// <summary>
    /// RSS per idle tunnel, on processes that have served nothing yet, as the peer scripts'
    /// run-all.sh measures it (mem first). After the other scenarios a process holds freed memory
    /// it will reuse (a GC heap with free space, malloc arenas), and the same tunnels then look
    /// almost free: the first table run read 2.1 KiB for the engine and 0.0 for Traffic Server.
    /// </summary>
    public async Task MeasureIdleFreshAsync(CancellationToken cancellationToken)
    {
        foreach (PeerTarget target in _targets.Where(t => t.Tunnels))
        {
            try
            {
                await MeasureAsync(1, "idle", target, cancellationToken);
            }
            catch (Exception e) when (e is SocketException or IOException && !cancellationToken.IsCancellationRequested)
            {
                Log($"r1 idle {target.Name}: {e.Message}");
                _results.Add(target.Name, "idle.errors", 1);
            }
        }
    }

    public async Task MeasureAsync(CancellationToken cancellationToken)
    {
        for (int rep = 1; rep <= _o.Reps; rep++)
        {
            foreach (string scenario in ScenarioNames)
            {
                // Targets alternate inside each repetition, so a slow minute of the shared box
                // lands on every target instead of one.
                foreach (PeerTarget target in _targets.Where(t => t.Tunnels || scenario == "get"))
                {
                    try
                    {
                        await MeasureAsync(rep, scenario, target, cancellationToken);
                    }
                    catch (Exception e) when (e is SocketException or IOException && !cancellationToken.IsCancellationRequested)
                    {
                        Log($"r{rep} {scenario} {target.Name}: {e.Message}");
                        _results.Add(target.Name, scenario + ".errors", 1);
                    }
                }
            }

            // Last in the repetition, so the load generator itself runs warm code by then.
            foreach (PeerTarget target in _targets.Where(FreshServer.CanStart).Where(_ => _o.Cold > TimeSpan.Zero))
            {
                try
                {
                    await MeasureColdAsync(rep, target, cancellationToken);
                }
                catch (Exception e) when (e is SocketException or IOException && !cancellationToken.IsCancellationRequested)
                {
                    Log($"r{rep} cold {target.Name}: {e.Message}");
                    _results.Add(target.Name, PeerKeys.ColdErrors, 1);
                }
            }
        }
    }

    /// <summary>
    /// The cold start (issue 18): a fresh process of the target, pinned like the run, gets back-to-back
    /// get windows of --cold seconds from the moment it accepts connections, through --warmup seconds;
    /// its first window's rate over the median of its later half (its own steady rate, <see cref="Stats.SteadyOf"/>) is the figure. A process that
    /// compiles while it serves (tiered JIT) reads below 1×; one that starts with its final code, ~1×.
    /// On a shared box the neighbours move the wall-clock ratio, so the same ratio of requests per
    /// CPU second of the process (what it would serve with the core to itself) is reported beside it.
    /// </summary>
    private async Task MeasureColdAsync(int rep, PeerTarget target, CancellationToken cancellationToken)
    {
        using FreshServer fresh = await FreshServer.StartAsync(target, _engineDll, _work, _o, cancellationToken);
        using EngineMetricsClient? metrics = fresh.Engine is { } engine ? new EngineMetricsClient(engine.Metrics, engine.Token) : null;
        var rates = new List<double>();
        var perCpuSecond = new List<double>();
        long errors = 0;
        double jitShare = double.NaN;
        for (int window = 0; window < _o.ColdWindows; window++)
        {
            // The engine's JIT time over its first window against its CPU time: how much of its
            // first seconds went to compiling, read from the runtime rather than from a rate.
            RuntimeCounters? before = window == 0 && metrics is not null ? await metrics.ReadAsync(cancellationToken) : null;
            double cpuBefore = ProcessTree.CpuSeconds(fresh.Pid);
            RunResult result = await Scenarios.KeepAliveGetAsync(Options(fresh.Target, "get", "--duration", Seconds(_o.Cold)), _o.Origin, cancellationToken: cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            double cpu = ProcessTree.CpuSeconds(fresh.Pid) - cpuBefore;
            if (before is { } first && await metrics!.ReadAsync(cancellationToken) is { } after && cpu > 0)
            {
                jitShare = 100 * (after - first).JitSeconds / cpu;
            }

            rates.Add(Rate(result));
            perCpuSecond.Add(cpu > 0 ? result.Ok / cpu : double.NaN);
            errors += result.Errors;
        }

        double steady = Stats.SteadyOf(rates);
        double ratio = steady > 0 ? rates[0] / steady : double.NaN;
        double ratioPerCpu = perCpuSecond[0] / Stats.SteadyOf(perCpuSecond);
        Add(target, PeerKeys.ColdRps, rates[0]);
        Add(target, PeerKeys.ColdSteadyRps, steady);
        Add(target, PeerKeys.ColdRatio, ratio);
        Add(target, PeerKeys.ColdRatioPerCpu, ratioPerCpu);
        Add(target, PeerKeys.ColdErrors, errors);
        if (!double.IsNaN(jitShare))
        {
            Add(target, PeerKeys.ColdJitShare, jitShare);
        }

        Log(string.Create(CultureInfo.InvariantCulture,
            $"r{rep} cold    {target.Name,-13} pid {fresh.Pid}, {fresh.Threads()} threads; req/s per {_o.Cold.TotalSeconds:0} s: {string.Join(" ", rates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}; per CPU s: {string.Join(" ", perCpuSecond.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}; first ÷ later half's median {ratio:0.00}×, per CPU s {ratioPerCpu:0.00}×{(double.IsNaN(jitShare) ? "" : $", JIT {jitShare:0.0} % of the first window's CPU")}, errors {errors}"));
    }

    private async Task MeasureAsync(int rep, string scenario, PeerTarget target, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int pid = target.IsEngine ? _engine!.Pid : await PeerProcesses.PidOfAsync(target.Name, target.Port, cancellationToken);
        if (pid == 0)
        {
            Note($"{target.Name}: no process found for port {target.Port}; its CPU and RSS are missing");
        }

        RuntimeCounters? gcBefore = target.IsEngine && _metrics is not null ? await _metrics.ReadAsync(cancellationToken) : null;
        double cpuBefore = pid > 0 ? ProcessTree.CpuSeconds(pid) : double.NaN;
        string line;
        double cpu;
        RunResult? result = null;
        switch (scenario)
        {
            case "get":
                result = await Scenarios.KeepAliveGetAsync(Options(target, "get", "--duration", Seconds(_o.Duration)), _o.Origin, cancellationToken: cancellationToken);
                cpu = CpuSince(pid, cpuBefore);
                HistogramBase h = result.Latency;
                Add(target, PeerKeys.Rps, Rate(result));
                if (h.TotalCount > 0)
                {
                    Add(target, PeerKeys.P50Ms, h.GetValueAtPercentile(50) / 1e6);
                    Add(target, PeerKeys.P99Ms, h.GetValueAtPercentile(99) / 1e6);
                }

                Add(target, PeerKeys.CpuUsPerRequest, result.Ok > 0 ? cpu * 1e6 / result.Ok : double.NaN);
                Add(target, PeerKeys.GetErrors, result.Errors);
                line = string.Create(CultureInfo.InvariantCulture,
                    $"{Rate(result):N0} req/s p50 {(h.TotalCount > 0 ? h.GetValueAtPercentile(50) / 1e6 : 0):0.00} ms p99 {(h.TotalCount > 0 ? h.GetValueAtPercentile(99) / 1e6 : 0):0.00} ms, CPU {cpu * 1e6 / Math.Max(result.Ok, 1):0.0} µs/req, errors {result.Errors}");
                break;
            case "connect":
                result = await Scenarios.ConnectRateAsync(Options(target, "connect", "--duration", Seconds(_o.Duration), "--requests", "1000000000"), _o.Origin, cancellationToken);
                cpu = CpuSince(pid, cpuBefore);
                Add(target, PeerKeys.TunnelsPerSecond, Rate(result));
                Add(target, PeerKeys.CpuUsPerTunnel, result.Ok > 0 ? cpu * 1e6 / result.Ok : double.NaN);
                Add(target, PeerKeys.ConnectErrors, result.Errors);
                line = string.Create(CultureInfo.InvariantCulture, $"{Rate(result):N0} tunnels/s, CPU {cpu * 1e6 / Math.Max(result.Ok, 1):0} µs/tunnel, errors {result.Errors}");
                break;
            case "tunnel":
                result = await Scenarios.TunnelThroughputAsync(Options(target, "tunnel", "--duration", "60", "--bytes", Invariant(PeerOptions.BigBytes)), _o.Origin, "/big", cancellationToken);
                cpu = CpuSince(pid, cpuBefore);
                double gib = result.Bytes / (double)(1L << 30);
                double mbps = result.Bytes / Math.Max(result.Elapsed.TotalSeconds, 1e-9) / 1e6;
                if (result.Ok > 0)
                {
                    Add(target, PeerKeys.MegabytesPerSecond, mbps);
                    Add(target, PeerKeys.CpuSecondsPerGib, cpu / gib);
                }

                Add(target, PeerKeys.TunnelErrors, result.Errors);
                line = string.Create(CultureInfo.InvariantCulture, $"{mbps:N0} MB/s, CPU {(gib > 0 ? cpu / gib : 0):0.00} s/GiB, errors {result.Errors}");
                break;
            default:
                if (pid == 0)
                {
                    return;
                }

                IdleResult idle = await IdleHold.HoldAsync(
                    Options(target, "idle", "--connections", Invariant(_o.TunnelsHeld), "--tunnels", "1", "--probe", "1"),
                    _o.Origin, () => ProcessTree.RssBytes(pid), TimeSpan.FromSeconds(1), _o.Hold, cancellationToken);
                if (idle.Held > 0)
                {
                    Add(target, PeerKeys.KibPerIdleTunnel, idle.BytesPerConnection / 1024);
                }

                Add(target, PeerKeys.IdleFailed, idle.Failed);
                line = string.Create(CultureInfo.InvariantCulture,
                    $"{idle.Held} held ({idle.Failed} failed), RSS {idle.RssBefore >> 20} -> {idle.RssHolding >> 20} MB, {idle.BytesPerConnection / 1024:0.0} KiB/tunnel");
                break;
        }

        // The scenarios end early, without an exception, when asked to stop: what they measured then is not a figure.
        cancellationToken.ThrowIfCancellationRequested();
        if (gcBefore is { } before && result is not null && await _metrics!.ReadAsync(cancellationToken) is { } after)
        {
            RuntimeCounters gc = after - before;
            Add(target, PeerKeys.Gc("gc0", scenario), gc.Gen0);
            Add(target, PeerKeys.Gc("gc1", scenario), gc.Gen1);
            Add(target, PeerKeys.Gc("gc2", scenario), gc.Gen2);
            Add(target, PeerKeys.Gc("pause_ms", scenario), gc.PauseSeconds * 1e3);
            // Per request, per tunnel, or (for the download) per MiB relayed.
            double per = scenario == "tunnel" ? result.Bytes / (double)(1 << 20) : result.Ok;
            double alloc = per > 0 ? gc.AllocatedBytes / per : double.NaN;
            Add(target, PeerKeys.Gc("alloc", scenario), alloc);
            line += string.Create(CultureInfo.InvariantCulture, $"; gc0={gc.Gen0} gc1={gc.Gen1} gc2={gc.Gen2} alloc={alloc:N0} B/{(scenario == "tunnel" ? "MiB" : "op")}");
        }

        Log($"r{rep} {scenario,-7} {target.Name,-13} {line}");

        // Let the closed connections of connect and idle drain before the next target starts.
        if (scenario is "connect" or "idle")
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    public string Report()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"LoadTests peers, {DateTime.Now:yyyy-MM-dd HH:mm}: {_o.Reps} repetition(s), medians; get and connect {_o.Duration.TotalSeconds:0} s × {_o.Connections} connections; tunnel = /big (256 MiB) through one CONNECT; {_o.TunnelsHeld} idle tunnels held once, on fresh processes before any other load; ");
        text.Append(_o.Pin ? "proxies on CPU 1, origin + load generator on CPU 0; " : "unpinned; ");
        text.Append(CultureInfo.InvariantCulture, $"engine access log {(_o.AccessLog ? "on (a file)" : "off")}, peers log nothing.");
        if (_o.Cold > TimeSpan.Zero)
        {
            text.Append(CultureInfo.InvariantCulture,
                $" Cold start (engine, haproxy-http): a fresh process's get req/s in its first {_o.Cold.TotalSeconds:0} s, and that ÷ the median of its last {_o.ColdWindows - (_o.ColdWindows / 2)} of {_o.ColdWindows} back-to-back {_o.Cold.TotalSeconds:0} s windows (its own steady rate), in req/s and per CPU second of the process.");
        }

        text.Append("\n\n");
        text.Append(PeerTable.Render(_results, _targets.Select(t => t.Name)));
        if (_targets.Any(t => t.IsEngine))
        {
            text.Append("\nThe engine's runtime during each scenario (its /metrics, medians):\n\n");
            text.Append(PeerTable.RenderEngineGc(_results));
        }

        foreach (string note in _notes.Distinct())
        {
            text.Append("\n- ").Append(note);
        }

        return text.Append('\n').ToString();
    }

    private void Add(PeerTarget target, string key, double value) => _results.Add(target.Name, key, value);

    private void Note(string note)
    {
        if (!_notes.Contains(note))
        {
            _notes.Add(note);
            Log(note);
        }
    }

    private LoadOptions Options(PeerTarget target, string scenario, params string[] more) =>
        LoadOptions.Parse([scenario, "--proxy", $"127.0.0.1:{target.Port}", "--origin", Origin,
            "--connections", Invariant(_o.Connections), "--raw", target.Mode == PeerMode.Raw ? "1" : "0", .. more]);

    private async Task<bool> OriginServesAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(5));
            using HttpLoadClient client = await HttpLoadClient.ConnectAsync(_o.Origin, limit.Token);
            await client.SendAsync(Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {Origin}\r\n\r\n"), limit.Token);
            return (await client.ReadResponseAsync(limit.Token)).Status == 200;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>CPU seconds of the target's process tree since <paramref name="before"/>; NaN (not recorded) when its process is unknown.</summary>
    private static double CpuSince(int pid, double before) => pid > 0 ? ProcessTree.CpuSeconds(pid) - before : double.NaN;

    private static double Rate(RunResult r) => r.Ok / Math.Max(r.Elapsed.TotalSeconds, 1e-9);

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        _metrics?.Dispose();
        if (_engine is not null)
        {
            Log($"stopping the engine (pid {_engine.Pid})");
            _engine.Dispose();
        }

        if (_peers is { Started.Count: > 0 })
        {
            Log($"stopping what this run started: {string.Join(' ', _peers.Started)}");
            await _peers.StopAsync();
        }

        if (_keepEngineLog && File.Exists(Path.Combine(_work.FullName, "engine.log")))
        {
            string log = Path.Combine(Path.GetTempPath(), $"loadtests-peers-engine-{Environment.ProcessId}.log");
            File.Copy(Path.Combine(_work.FullName, "engine.log"), log, overwrite: true);
            Log($"the engine's output: {log}");
        }

        _work.Delete(recursive: true);
    }
}
