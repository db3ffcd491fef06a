using System.Net;
using Engine.Connection;
using Engine.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

using Engine.State;
using Engine.Upstream;
using Engine.Hosting.Systemd;

namespace Engine.Hosting;

/// <summary>
/// Runs the data path inside a generic host: binds the listeners when the host starts (so
/// systemd's READY follows a successful bind), drains on stop within <c>Limits:ShutdownDrain</c>.
/// </summary>
internal sealed class ProxyHostedService : IHostedService, IAsyncDisposable
{
    private EngineOptions _options;
    private readonly ILogger<ProxyHostedService> _logger;
    private readonly TextWriter _console;
    private AccessLog? _accessLog;
    private ProxyServices? _services;
    private IStateStore? _state;
    private IReadOnlyList<ListenerBinding> _listeners = [];
    private readonly ConfigSource? _source;
    private ConfigReloader? _reloader;

    /// <summary>File watch and SIGHUP reloads; null when the engine runs without a file.</summary>
    internal ConfigReloader? Reloader => _reloader;

    /// <summary>
    /// Installs a reloaded configuration (packages, nodes, limits, security, routing) over the
    /// running state. Listeners, the state store and the admin endpoint take a restart.
    /// </summary>
    internal bool Apply(EngineOptions next)
    {
        lock (_nodesLock)
        {
            return ApplyLocked(next);
        }
    }

    private bool ApplyLocked(EngineOptions next)
    {
        if (_server is null)
        {
            return false;
        }

        // The configuration is the source of truth again: admin changes end, sources follow the file.
        _adminNodes.Clear();
        _nodeSources?.Update(next.NodeSources);

        if (!next.Listeners.Select(l => (l.Endpoint, l.Protocol, l.Certificate, l.ProxyProtocol)).SequenceEqual(_options.Listeners.Select(l => (l.Endpoint, l.Protocol, l.Certificate, l.ProxyProtocol))))
        {
            EngineLog.ReloadNeedsRestart(_logger, "listeners");
        }

        if (next.State.Store != _options.State.Store || next.State.Redis != _options.State.Redis)
        {
            EngineLog.ReloadNeedsRestart(_logger, "state store settings");
        }

        if (!Equals(next.Admin?.Endpoint, _options.Admin?.Endpoint) || next.Admin?.Token != _options.Admin?.Token)
        {
            EngineLog.ReloadNeedsRestart(_logger, "admin settings");
        }

        if (next.Limits.MaxPendingWork != _options.Limits.MaxPendingWork || next.Limits.MaxLoopLag != _options.Limits.MaxLoopLag)
        {
            // The overload monitor samples on its own timer for the life of the services.
            EngineLog.ReloadNeedsRestart(_logger, "load-shedding limits (MaxLoopLag, MaxPendingWork)");
        }

        _options = next;
        SwapPool(next, keepRemoved: false);   // a configuration reload brings removed nodes back (admin.md)
        return true;
    }

    // Nodes from the node sources (last good per file) and the admin API (PUT /nodes/{id}), on
    // top of the configuration's own; serialized so a source change and an admin PUT never race.
    private readonly Lock _nodesLock = new();
    private readonly Dictionary<string, NodeOptions> _adminNodes = new(StringComparer.Ordinal);
    private NodeSourceWatcher? _nodeSources;

    /// <summary>The node sources' watcher; null when the engine has not started.</summary>
    internal NodeSourceWatcher? NodeSources => _nodeSources;

    /// <summary>
    /// <c>PUT /nodes/{id}</c>: adds or replaces one node until the next configuration reload or
    /// node-source change. False when the engine is not running.
    /// </summary>
    internal bool PutNode(NodeOptions node)
    {
        lock (_nodesLock)
        {
            if (_server is null)
            {
                return false;
            }

            _adminNodes[node.Id] = node;
            SwapPool(_options);
            EngineLog.PoolChanged(_logger, "admin PUT " + node.Id, _services!.Routing.Pool.Count);
            return true;
        }
    }

    private void OnNodeSourceChanged(string reason)
    {
        lock (_nodesLock)
        {
            if (_server is null)
            {
                return;
            }

            _adminNodes.Clear();
            SwapPool(_options);
            EngineLog.PoolChanged(_logger, reason, _services!.Routing.Pool.Count);
        }
    }

    /// <summary>
    /// Rebuilds the services over the running state with the effective nodes: unchanged exits
    /// keep their health; nodes gone are drained (marked removed, what runs on them finishes).
    /// </summary>
    private void SwapPool(EngineOptions options, bool keepRemoved = true)
    {
        ProxyServices previous = _server!.Services;
        ProxyServices reloaded = ProxyServicesFactory.Reload(WithEffectiveNodes(options), previous, keepRemoved);
        _server.Swap(reloaded);
        _services = reloaded;
        // The old configuration's timers (session sweep, probe) stop; its idle upstream connections
        // close. Requests still running on it finish with the objects they hold.
        previous.Routing.Dispose();
        previous.UpstreamPool?.Dispose();
    }

    private EngineOptions WithEffectiveNodes(EngineOptions options)
    {
        IReadOnlyList<NodeOptions> sourced = _nodeSources?.Nodes ?? [];
        if (sourced.Count == 0 && _adminNodes.Count == 0)
        {
            return options;
        }

        var nodes = new List<NodeOptions>(options.Nodes.Count + sourced.Count + _adminNodes.Count);
        var origins = new Dictionary<string, string>(nodes.Capacity, StringComparer.Ordinal);
        foreach (NodeOptions node in options.Nodes)
        {
            origins[node.Id] = node.Origin;
            nodes.Add(node);
        }

        int taken = 0;
        foreach (NodeOptions node in sourced)
        {
            if (origins.TryAdd(node.Id, node.Origin))
            {
                nodes.Add(node);
            }
            else if (taken++ < 10)
            {
                EngineLog.NodeSourceIdTaken(_logger, node.Origin, node.Id, origins[node.Id]);
            }
        }

        foreach (NodeOptions node in _adminNodes.Values)
        {
            int index = nodes.FindIndex(n => n.Id == node.Id);
            if (index >= 0)
            {
                nodes[index] = node;
            }
            else
            {
                nodes.Add(node);
            }
        }

        return options with { Nodes = nodes };
    }
    private ProxyServer? _server;
    private Admin.AdminServer? _admin;
    private volatile bool _accepting;

    private readonly Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier _systemd;

    public ProxyHostedService(EngineOptions options, ILogger<ProxyHostedService> logger, EngineConsole console, Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier systemd,
        ConfigSource? source = null)
    {
        _source = source;
        _options = options;
        _logger = logger;
        _console = console.Out;
        _systemd = systemd;
    }

    public IReadOnlyList<IPEndPoint> EndPoints => _server?.EndPoints ?? [];

    public bool IsAccepting => _server?.IsAccepting ?? false;

    /// <summary>What the start-up warm-up did (null before <see cref="StartAsync"/>).</summary>
    internal WarmUpResult? WarmedUp { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before anything of the engine's own exists: the warm-up's traffic touches none of it,
        // and clients (or systemd's socket activation queue) wait in the backlog meanwhile.
        WarmedUp = await WarmUp.RunAsync(_options, cancellationToken).ConfigureAwait(false);
        LogWarmUp(WarmedUp);
        _accessLog = AccessLogFactory.Create(_options.AccessLog, Console.OpenStandardOutput);
        _state = await StateStoreFactory.CreateAsync(_options.State, TimeProvider.System, _logger).ConfigureAwait(false);
        _nodeSources = new NodeSourceWatcher(_options.NodeSources, _logger, OnNodeSourceChanged);
        _services = ProxyServicesFactory.Create(WithEffectiveNodes(_options), _accessLog, _state, log: _logger);
        long maxConnections = DescriptorBudget.Cap(_options.Limits.MaxConnections, out ulong descriptorLimit);
        if (maxConnections < _options.Limits.MaxConnections)
        {
            EngineLog.ConnectionsCappedByDescriptors(_logger, _options.Limits.MaxConnections, descriptorLimit, maxConnections);
        }

        _server = new ProxyServer(_services, maxConnections, _options.Listeners.Count > 0 ? _options.Listeners[0].Backlog : ListenerOptions.DefaultBacklog);
        // The reload handlers (SIGHUP, the file watcher) before the listeners accept: a reload sent as
        // soon as the port answers (systemctl reload, a deploy script, a test) was otherwise lost.
        if (_source is not null)
        {
            _reloader = new ConfigReloader(_source, Apply, _logger, outcome: ok => _services?.Metrics?.Reloaded(ok));
        }

        _listeners = SystemdSocketActivation.Adopt(ProxyServicesFactory.Listeners(_options), _logger);
        _server.Start(_listeners);
        foreach (IPEndPoint endPoint in _server.EndPoints)
        {
            EngineLog.Listening(_logger, endPoint);
        }

        if (_server.EndPoints.Count > 0)
        {
            string curl = CurlLine(_server.EndPoints[0], _options.Packages);
            EngineLog.Ready(_logger, curl);
            _console.WriteLine($"engine ready. try:\n  {curl}");
            _console.Flush();
        }

        // Admin listener (docs/admin.md): after the proxy listeners, so /readyz never sees them unbound.
        ProxyServer server = _server;
        _services.Metrics?.Observe(() => server.OpenConnections, () => _services?.Routing.Pool);
        _services.Metrics?.ObserveSecurity(() => _services?.AuthThrottle.Throttled ?? 0, () => _accessLog?.Dropped ?? 0);
        ObserveTables(_services.Metrics);
        _services.Metrics?.ObserveAcceptPauses(() => server.AcceptPauses);
        if (_options.Admin is { } admin)
        {
            _admin = new Admin.AdminServer(() => _services!, admin.Token, () => _accepting, putNode: PutNode, audit: _logger);
            _admin.Start(admin.Endpoint);
            Admin.AdminServer adminServer = _admin;
            _services.Metrics?.ObserveTable("auth_admin", () => adminServer.Throttle.Tracked, () => adminServer.Throttle.Overflowed);
            EngineLog.Listening(_logger, _admin.EndPoint);
        }

        _accepting = true;

        // READY only once the listeners are bound (SystemdLifetime sends it too when systemd is our
        // parent; a repeat is harmless). A disabled notifier (no NOTIFY_SOCKET) ignores this.
        _systemd.Notify(new Microsoft.Extensions.Hosting.Systemd.ServiceState("READY=1"));
    }

    private void LogWarmUp(WarmUpResult result)
    {
        switch (result.Outcome)
        {
            case WarmUpOutcome.Ran when result.Complete:
                EngineLog.WarmedUp(_logger, result.Requests, result.TlsRequests, result.Tunnels, result.SocksTunnels, result.MethodsCompiled, result.Elapsed.TotalMilliseconds, result.Settled);
                break;
            case WarmUpOutcome.Ran:
                EngineLog.WarmUpIncomplete(_logger, result.Requests, WarmUp.Requests, result.TlsRequests, result.Tunnels, result.SocksTunnels, WarmUp.Tunnels);
                break;
            case WarmUpOutcome.Failed:
                EngineLog.WarmUpFailed(_logger, result.Reason!);
                break;
        }
    }

    /// <summary>The tables client input can grow, read through the current services (a reload swaps some).</summary>
    private void ObserveTables(Diagnostics.EngineMetrics? metrics)
    {
        if (metrics is null)
        {
            return;
        }

        metrics.ObserveTable("sessions", () => _state?.Sessions.Count ?? 0, () => _state?.Sessions.Evicted ?? 0);
        metrics.ObserveTable("auth_proxy", () => _services?.AuthThrottle.Tracked ?? 0, () => _services?.AuthThrottle.Overflowed ?? 0);
        metrics.ObserveTable("dns", () => _services?.Dns?.Count ?? 0, () => _services?.Dns?.Evicted ?? 0);
        metrics.ObserveTable("domain_bans", () => _services?.Routing.Pool.Bans.Count ?? 0, () => _services?.Routing.Pool.Bans.Evicted ?? 0);
    }

    /// <summary>
    /// A line a user can paste: the first active package, its default rules, the first listener.
    /// The ready line goes to the logger (journald, log shippers) and the console, so it carries a
    /// real key only when that key is the embedded demo's, which is public anyway; any other key
    /// is written as a placeholder naming the package (configuration.md: keys are never logged).
    /// </summary>
    internal static string CurlLine(IPEndPoint endPoint, IReadOnlyList<PackageOptions> packages)
    {
        PackageOptions? package = packages.FirstOrDefault(p => p.Status == Auth.PackageStatus.Active);
        string host = endPoint.Address.Equals(IPAddress.Any) || endPoint.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1"
            : endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]" : endPoint.Address.ToString();
        string key = package is null ? string.Empty
            : package.Key == EmbeddedDefault.DemoKey ? package.Key
            : $"KEY-OF-{package.Id}";
        string credentials = package is null ? string.Empty
            : $"{Uri.EscapeDataString(package.DefaultRules ?? "country-any")}:{Uri.EscapeDataString(key)}@";
        return $"curl -x http://{credentials}{host}:{endPoint.Port} http://example.com/";
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is null)
        {
            return;
        }

        _systemd.Notify(new Microsoft.Extensions.Hosting.Systemd.ServiceState("STOPPING=1"));
        _accepting = false;
        if (_admin is not null)
        {
            await _admin.DisposeAsync().ConfigureAwait(false);   // before the proxy listeners
        }

        EngineLog.Draining(_logger, _options.Limits.ShutdownDrain);
        int cut = await _server.StopAsync(_options.Limits.ShutdownDrain).ConfigureAwait(false);
        EngineLog.Stopped(_logger, cut);
    }

    private int _disposed;

    // Registered both as itself and as an IHostedService, so the container disposes it twice.
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_admin is not null)
        {
            await _admin.DisposeAsync().ConfigureAwait(false);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        _reloader?.Dispose();
        _nodeSources?.Dispose();
        _services?.Stop();
        foreach (ListenerBinding listener in _listeners)
        {
            listener.Certificate?.Dispose();
        }

        if (_state is not null)
        {
            await _state.DisposeAsync().ConfigureAwait(false);
        }
        if (_accessLog is not null)
        {
            await _accessLog.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Where the daemon prints its human-facing lines (stdout; tests capture it).</summary>
internal sealed class EngineConsole(TextWriter output)
{
    public TextWriter Out { get; } = output;
}
