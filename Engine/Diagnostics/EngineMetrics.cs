using System.Diagnostics.Metrics;
using System.Globalization;
using Engine.Errors;
using Engine.Upstream;

namespace Engine.Diagnostics;

/// <summary>
/// The engine's <see cref="Meter"/> ("Engine"): visible to dotnet-counters and any
/// MeterListener/OpenTelemetry exporter (the admin listener's /metrics is one). Counting is an
/// atomic add with tags passed as <see cref="KeyValuePair{TKey, TValue}"/> structs whose values
/// are cached strings, so recording a request allocates nothing; gauges are read only when a
/// collector asks.
/// </summary>
internal sealed class EngineMetrics : IDisposable
{
    public const string MeterName = "Engine";

    // Seconds. Prometheus's default buckets up to 10 s, then the minutes a tunnel can last.
    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

    private static readonly string[] StatusTags = CreateStatusTags();
    private static readonly string[] CodeTags = CreateCodeTags();

    private static readonly KeyValuePair<string, object?> DirectionIn = new("direction", "in");
    private static readonly KeyValuePair<string, object?> DirectionOut = new("direction", "out");
    private static readonly KeyValuePair<string, object?> KindRequest = new("kind", "request");
    private static readonly KeyValuePair<string, object?> KindTunnel = new("kind", "tunnel");

    private readonly Meter _meter;
    private readonly Counter<long> _limited;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _tunnels;
    private readonly Counter<long> _bytes;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _connect;
    private readonly Histogram<double> _firstByte;
    private readonly Counter<long> _reloads;
    private readonly Counter<long> _internalErrors;
    private Func<long>? _openConnections;
    private Func<NodePool?>? _nodes;
    private TimeProvider _time = TimeProvider.System;
    private Func<long>? _authThrottled;
    private Func<long>? _accessLogDropped;
    private Func<long>? _acceptPauses;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (Func<long> Entries, Func<long> Evicted)> _tables = new(StringComparer.Ordinal);

    /// <param name="loopLagSeconds">The event loops' lag as the overload monitor last sampled it; no gauge without it.</param>
    public EngineMetrics(Func<bool> stateDegraded, Func<long> shed, IMeterFactory? factory = null, Func<double>? loopLagSeconds = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _limited = _meter.CreateCounter<long>("engine.limits.rejected", "{request}",
            "Requests and tunnels refused by a limit, by limit (rps, concurrency, traffic, credits, circuit, overload).");
        _meter.CreateObservableGauge("engine.state.degraded", () => stateDegraded() ? 1 : 0, null,
            "1 while the shared state store (Redis) cannot be reached and this instance serves from local state.");
        _meter.CreateObservableCounter("engine.overload.shed", shed, "{request}",
            "Requests refused with 503 OVERLOADED because the event loops or the work queue fell behind.");
        if (loopLagSeconds is not null)
        {
            _meter.CreateObservableGauge("engine.loop.lag", loopLagSeconds, "s",
                "How long the event loops take to reach a new event (a probe every 50 ms; the slowest loop): Limits:MaxLoopLag sheds past it.");
        }

        _meter.CreateObservableGauge("engine.connections.open", () => _openConnections?.Invoke() ?? 0, "{connection}",
            "Client connections open on the proxy listeners.");
        _requests = _meter.CreateCounter<long>("engine.requests", "{request}",
            "Forwarded (absolute-URI) requests that ended, by status and error CODE (none = no engine error).");
        _tunnels = _meter.CreateCounter<long>("engine.tunnels", "{tunnel}",
            "CONNECT and SOCKS5 tunnels that ended, by status and error CODE (none = no engine error).");
        _bytes = _meter.CreateCounter<long>("engine.bytes", "By",
            "Bytes relayed, by direction (in = from the client, out = to the client) and package.");
        var durationAdvice = new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets };
        _duration = _meter.CreateHistogram("engine.request.duration", "s",
            "Time from a request's head to its end (the access log's ms), by kind (request, tunnel).", null, durationAdvice);
        _connect = _meter.CreateHistogram("engine.upstream.connect.duration", "s",
            "Time to open the path to the target through the chosen node.", null, durationAdvice);
        _firstByte = _meter.CreateHistogram("engine.upstream.first_byte.duration", "s",
            "Time from sending a forwarded request to the first byte of the target's response.", null, durationAdvice);
        _meter.CreateObservableGauge("engine.nodes", ObserveNodes, "{node}",
            "Nodes by state: available, ejected (failing, cooling down), draining, removed (admin API or reload).");
        _meter.CreateObservableGauge("engine.nodes.in_flight", () => SumNodes(static n => n.InFlight), "{request}",
            "Requests and tunnels running through any node.");
        _meter.CreateObservableGauge("engine.nodes.domain_bans", () => _nodes?.Invoke()?.Bans.CountBanned(_time.GetTimestamp()) ?? 0, "{ban}",
            "(node, domain) pairs banned right now by the per-site ban list.");
        _meter.CreateObservableGauge("engine.tables.entries", ObserveTables(evicted: false), "{entry}",
            "Entries in each table that client input can grow (sessions, domain_bans, dns, auth_proxy, auth_admin); each has a hard cap (docs/admin.md).");
        _meter.CreateObservableCounter("engine.tables.evicted", ObserveTables(evicted: true), "{entry}",
            "Entries a full table evicted or refused to add, by table (docs/admin.md says which for each).");
        _internalErrors = _meter.CreateCounter<long>("engine.internal_errors", "{request}",
            "Requests ended by an unexpected fault inside the engine (INTERNAL_ERROR, each logged with its exception).");
        _reloads = _meter.CreateCounter<long>("engine.reloads", "{reload}",
            "Configuration reloads, by result (ok, failed: the old configuration stays).");
        _meter.CreateObservableCounter("engine.auth.throttled", () => _authThrottled?.Invoke() ?? 0, "{request}",
            "Failed credential attempts answered late because their address went over Security:AuthFailuresPerMinute.");
        _meter.CreateObservableCounter("engine.access_log.dropped", () => _accessLogDropped?.Invoke() ?? 0, "{line}",
            "Access-log lines dropped because the writer's queue was full (the disk or stdout could not keep up).");
        _meter.CreateObservableCounter("engine.accept.paused", () => _acceptPauses?.Invoke() ?? 0, "{pause}",
            "Accepts that failed because the process was out of file descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS) and were retried after a pause.");
    }

    /// <summary>
    /// Where a bounded table's size and evictions are read (functions: a reload may swap the
    /// table). Registering a name again replaces it.
    /// </summary>
    public void ObserveTable(string table, Func<long> entries, Func<long> evicted) =>
        _tables[table] = (entries, evicted);

    private Func<IEnumerable<Measurement<long>>> ObserveTables(bool evicted) => () =>
    {
        var measurements = new List<Measurement<long>>(_tables.Count);
        foreach (KeyValuePair<string, (Func<long> Entries, Func<long> Evicted)> table in _tables)
        {
            measurements.Add(new Measurement<long>(evicted ? table.Value.Evicted() : table.Value.Entries(), new KeyValuePair<string, object?>("table", table.Key)));
        }

        return measurements;
    };

    /// <summary>Where the accept loops' pauses are read (the proxy server's listeners).</summary>
    public void ObserveAcceptPauses(Func<long> acceptPauses) => _acceptPauses = acceptPauses;

    /// <summary>Where the brute-force throttle and access-log counters are read (current services, after reloads too).</summary>
    public void ObserveSecurity(Func<long> authThrottled, Func<long> accessLogDropped)
    {
        _authThrottled = authThrottled;
        _accessLogDropped = accessLogDropped;
    }

    /// <summary>The meter itself, so an exporter can listen to this instance alone.</summary>
    public Meter Meter => _meter;

    /// <summary>
    /// Where the gauges read connections and node health. Functions rather than objects: a reload
    /// swaps the node pool, and the gauges follow whatever is current when a collector asks.
    /// </summary>
    /// <param name="time">The clock of the nodes' health (ejections are timestamps of it).</param>
    public void Observe(Func<long> openConnections, Func<NodePool?> nodes, TimeProvider? time = null)
    {
        _openConnections = openConnections;
        _nodes = nodes;
        _time = time ?? TimeProvider.System;
    }

    public void Limited(LimitedBy limit) =>
        _limited.Add(1, new KeyValuePair<string, object?>("limit", limit switch
        {
            LimitedBy.Rps => "rps",
            LimitedBy.Concurrency => "concurrency",
            LimitedBy.Traffic => "traffic",
            LimitedBy.Credits => "credits",
            LimitedBy.Circuit => "circuit",
            LimitedBy.Overload => "overload",
            _ => "other",
        }));

    /// <summary>
    /// One request or tunnel ended (called where its access-log line is written). Allocation-free:
    /// every tag value is a cached string or the package's own id.
    /// </summary>
    public void RequestEnded(bool tunnel, int status, ErrorCode error, string? packageId, long bytesIn, long bytesOut, TimeSpan duration)
    {
        var statusTag = new KeyValuePair<string, object?>("status", (uint)status < (uint)StatusTags.Length ? StatusTags[status] : "other");
        var codeTag = new KeyValuePair<string, object?>("code", (uint)error < (uint)CodeTags.Length ? CodeTags[(int)error] : "other");
        (tunnel ? _tunnels : _requests).Add(1, statusTag, codeTag);
        var package = new KeyValuePair<string, object?>("package", packageId ?? "-");
        if (bytesIn > 0)
        {
            _bytes.Add(bytesIn, DirectionIn, package);
        }

        if (bytesOut > 0)
        {
            _bytes.Add(bytesOut, DirectionOut, package);
        }

        _duration.Record(duration.TotalSeconds, tunnel ? KindTunnel : KindRequest);
    }

    /// <summary>The path to the target is open (for the connection layer once it times connects).</summary>
    public void UpstreamConnected(TimeSpan elapsed) => _connect.Record(elapsed.TotalSeconds);

    /// <summary>The target's first response byte arrived, this long after the forwarded request head went out.</summary>
    public void FirstByte(TimeSpan elapsed) => _firstByte.Record(elapsed.TotalSeconds);

    /// <summary>A configuration reload finished: <paramref name="ok"/> false when the new files were rejected.</summary>
    public void InternalError() => _internalErrors.Add(1);

    public void Reloaded(bool ok) => _reloads.Add(1, new KeyValuePair<string, object?>("result", ok ? "ok" : "failed"));

    private IEnumerable<Measurement<int>> ObserveNodes()
    {
        NodePool? pool = _nodes?.Invoke();
        if (pool is null)
        {
            return [];
        }

        long now = _time.GetTimestamp();
        int available = 0, ejected = 0, draining = 0, removed = 0;
        foreach (Node node in pool.Nodes)
        {
            switch (node.AdminState)
            {
                case NodeAdminState.Draining:
                    draining++;
                    break;
                case NodeAdminState.Removed:
                    removed++;
                    break;
                default:
                    if (node.OutUntil > now)
                    {
                        ejected++;
                    }
                    else if (node.Weight > 0)
                    {
                        available++;
                    }

                    break;
            }
        }

        return
        [
            new(available, new KeyValuePair<string, object?>("state", "available")),
            new(ejected, new KeyValuePair<string, object?>("state", "ejected")),
            new(draining, new KeyValuePair<string, object?>("state", "draining")),
            new(removed, new KeyValuePair<string, object?>("state", "removed")),
        ];
    }

    private long SumNodes(Func<Node, int> value)
    {
        long sum = 0;
        if (_nodes?.Invoke() is { } pool)
        {
            foreach (Node node in pool.Nodes)
            {
                sum += value(node);
            }
        }

        return sum;
    }

    private static string[] CreateStatusTags()
    {
        var tags = new string[600];
        for (int i = 0; i < tags.Length; i++)
        {
            tags[i] = i.ToString(CultureInfo.InvariantCulture);
        }

        return tags;
    }

    private static string[] CreateCodeTags()
    {
        ErrorCode[] codes = Enum.GetValues<ErrorCode>();
        var tags = new string[(int)codes.Max() + 1];
        foreach (ErrorCode code in codes)
        {
            tags[(int)code] = code == ErrorCode.None ? "none" : ErrorCatalog.Get(code).Name;
        }

        return tags;
    }

    public void Dispose() => _meter.Dispose();
}
