using System.Net;
using Engine.Connection;
using Engine.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

using Engine.State;
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
        if (_server is null)
        {
            return false;
        }

        if (!next.Listeners.Select(l => (l.Endpoint, l.Protocol, l.Certificate, l.ProxyProtocol)).SequenceEqual(_options.Listeners.Select(l => (l.Endpoint, l.Protocol, l.Certificate, l.ProxyProtocol))))
        {
            EngineLog.ReloadNeedsRestart(_logger, "listeners");
        }

        if (next.State.Store != _options.State.Store || next.State.Redis != _options.State.Redis)
        {
            EngineLog.ReloadNeedsRestart(_logger, "state store settings");
        }

        ProxyServices previous = _server.Services;
        ProxyServices reloaded = ProxyServicesFactory.Reload(next, previous);
        _server.Swap(reloaded);
        _services = reloaded;
        _options = next;
        // The old configuration's timers (session sweep, probe) stop; its idle upstream connections
        // close. Requests still running on it finish with the objects they hold.
        previous.Routing.Dispose();
        previous.UpstreamPool?.Dispose();
        return true;
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

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _accessLog = AccessLogFactory.Create(_options.AccessLog, Console.OpenStandardOutput);
        _state = StateStoreFactory.Create(_options.State, TimeProvider.System, _logger);
        _services = ProxyServicesFactory.Create(_options, _accessLog, _state);
        long maxConnections = DescriptorBudget.Cap(_options.Limits.MaxConnections, out ulong descriptorLimit);
        if (maxConnections < _options.Limits.MaxConnections)
        {
            EngineLog.ConnectionsCappedByDescriptors(_logger, _options.Limits.MaxConnections, descriptorLimit, maxConnections);
        }

        _server = new ProxyServer(_services, maxConnections, _options.Listeners.Count > 0 ? _options.Listeners[0].Backlog : ListenerOptions.DefaultBacklog);
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

        if (_source is not null)
        {
            _reloader = new ConfigReloader(_source, Apply, _logger, outcome: ok => _services?.Metrics?.Reloaded(ok));
        }

        // Admin listener (docs/admin.md): after the proxy listeners, so /readyz never sees them unbound.
        ProxyServer server = _server;
        _services.Metrics?.Observe(() => server.OpenConnections, () => _services?.Routing.Pool);
        _services.Metrics?.ObserveSecurity(() => _services?.AuthThrottle.Throttled ?? 0, () => _accessLog?.Dropped ?? 0);
        ObserveTables(_services.Metrics);
        _services.Metrics?.ObserveAcceptPauses(() => server.AcceptPauses);
        if (_options.Admin is { } admin)
        {
            _admin = new Admin.AdminServer(() => _services!, admin.Token, () => _accepting);
            _admin.Start(admin.Endpoint);
            Admin.AdminServer adminServer = _admin;
            _services.Metrics?.ObserveTable("auth_admin", () => adminServer.Throttle.Tracked, () => adminServer.Throttle.Overflowed);
            EngineLog.Listening(_logger, _admin.EndPoint);
        }

        _accepting = true;

        // READY only once the listeners are bound (SystemdLifetime sends it too when systemd is our
        // parent; a repeat is harmless). A disabled notifier (no NOTIFY_SOCKET) ignores this.
        _systemd.Notify(new Microsoft.Extensions.Hosting.Systemd.ServiceState("READY=1"));
        return Task.CompletedTask;
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
        await _server.StopAsync(_options.Limits.ShutdownDrain).ConfigureAwait(false);
        EngineLog.Stopped(_logger, _server.OpenConnections);
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
        _services?.UpstreamPool?.Dispose();
        _services?.Routing.Dispose();
        foreach (ListenerBinding listener in _listeners)
        {
            listener.Certificate?.Dispose();
        }

        _services?.Breakers.Dispose();
        _services?.Overload.Dispose();
        _services?.Metrics?.Dispose();
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
