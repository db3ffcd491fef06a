using System.Net;
using System.Net.Sockets;
using Engine.Auth;
using Engine.Connection;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Targets;
using Engine.Upstream;
using Engine.Sessions;

namespace Engine.Tests.Fixtures;

/// <summary>
/// The engine's data path (<see cref="ProxyServer"/>: transport + connection layer) on a loopback
/// port, configured in code. Access-log lines are captured for assertions.
/// </summary>
internal sealed class ProxyFixture : IAsyncDisposable
{
    public const string Key = "demo-key";

    private readonly TimeSpan _drain;
    private readonly MemoryStream _log = new();
    private readonly Stream _logSink;

    public ProxyFixture(Action<ProxyFixtureOptions>? configure = null)
    {
        var options = new ProxyFixtureOptions();
        configure?.Invoke(options);
        // Synchronized: the log's writer task and the test read the same stream.
        _logSink = options.AccessLogSink ?? Stream.Synchronized(_log);
        AccessLog = new AccessLog(_logSink, successSampleRate: options.AccessLogErrorsOnly ? 0 : 1.0);   // as AccessLogFactory reads Level = errors
        var policy = new TargetPolicy(options.AllowPrivateTargets, options.AllowedConnectPorts, options.BlockedDomains, options.AllowedHttpPorts);
        var dns = new DnsCache(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2), resolve: options.Resolve);
        var pool = new NodePool(options.Nodes, options.Health ?? NodeHealthPolicy.Default(options.Time));
        State = options.State ?? new Engine.State.MemoryStateStore(options.Time, options.Sessions);
        Sessions = State.Sessions;
        INodeConnector connector = new NodeConnector(pool, dns, policy, options.Limits.ConnectTimeout, options.OpenSocket);
        // As ProxyServicesFactory wires it: TCP-connect probes of nodes that traffic took out.
        NodeProber? prober = options.ProbeInterval is { } interval ? new NodeProber(pool, (NodeConnector)connector, probe: null, interval, options.Time) : null;
        Routing = new NodeRouting(pool, options.WrapConnector?.Invoke(connector) ?? connector, Sessions, options.MaxAttempts, options.Time, prober);
        Services = new ProxyServices
        {
            Limits = options.Limits,
            ParserLimits = HttpParserLimits.Default,
            Errors = new ErrorWriter(new ErrorWriterOptions()),
            Packages = new PackageDirectory(options.Packages),
            Policy = policy,
            State = State,
            Limiter = new Engine.Limits.RequestLimiter(State, options.CreditPoolBytes, options.Time),
            Breakers = new Engine.Limits.CircuitBreakers(options.Time),
            Overload = options.Overload ?? Engine.Limits.OverloadMonitor.Off,
            Metrics = options.Metrics,
            AuthThrottle = options.AuthThrottle ?? Engine.Auth.AuthFailureThrottle.Off,
            Routing = Routing,
            AccessLog = AccessLog,
            UpstreamPool = options.PoolUpstream ? new Engine.Upstream.UpstreamConnectionPool() : null,
            Time = options.Time,
        };

        Server = new ProxyServer(Services, options.MaxConnections) { Accept = options.Accept };
        var listeners = new List<ListenerBinding> { new(new IPEndPoint(IPAddress.Loopback, 0), options.AutoDetect ? ClientProtocol.Auto : ClientProtocol.Http, ProxyProtocol: options.ProxyProtocol) };
        if (options.Socks)
        {
            listeners.Add(new ListenerBinding(new IPEndPoint(IPAddress.Loopback, 0), ClientProtocol.Socks5));
        }

        if (options.Tls is not null)
        {
            listeners.Add(new ListenerBinding(new IPEndPoint(IPAddress.Loopback, 0), ClientProtocol.Http, options.Tls));
        }

        Server.Start(listeners);
        _tlsIndex = options.Socks ? 2 : 1;
        _drain = options.Drain;
    }

    public ProxyServices Services { get; }

    public ProxyServer Server { get; }

    public NodeRouting Routing { get; }

    public ISessionStore Sessions { get; }

    public Engine.State.IStateStore State { get; }

    public AccessLog AccessLog { get; }

    public IPEndPoint EndPoint => Server.EndPoints[0];

    /// <summary>The SOCKS5 listener (with <see cref="ProxyFixtureOptions.Socks"/>).</summary>
    public IPEndPoint SocksEndPoint => Server.EndPoints[1];

    /// <summary>The https listener (with <see cref="ProxyFixtureOptions.Tls"/>).</summary>
    public IPEndPoint TlsEndPoint => Server.EndPoints[_tlsIndex];

    private readonly int _tlsIndex;

    public Uri Uri => new($"http://127.0.0.1:{EndPoint.Port}");

    /// <summary>Graceful stop, as on SIGTERM; how many connections the drain deadline cut.</summary>
    public Task<int> StopAsync() => Server.StopAsync(_drain);

    /// <summary>Waits until the access log has at least <paramref name="count"/> lines and returns them.</summary>
    public async Task<string[]> LogLinesAsync(int count = 1)
    {
        for (int i = 0; i < 200; i++)
        {
            string[] lines = Lines();
            if (lines.Length >= count)
            {
                return lines;
            }

            await Task.Delay(25);
        }

        return Lines();
    }

    private string[] Lines()
    {
        byte[] bytes;
        lock (_logSink)
        {
            bytes = _log.ToArray();
        }

        return System.Text.Encoding.ASCII.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(_drain);
        await Server.DisposeAsync();
        Services.UpstreamPool?.Dispose();
        Routing.Dispose();
        Services.Breakers.Dispose();
        await AccessLog.DisposeAsync();
    }
}

internal sealed class ProxyFixtureOptions
{
    public ConnectionLimits Limits { get; set; } = new();

    public bool AllowPrivateTargets { get; set; } = true;

    public int[]? AllowedConnectPorts { get; set; }

    public string[]? BlockedDomains { get; set; }

    /// <summary>Plain-HTTP port policy; null = every port (the fixture's default, unlike the engine's).</summary>
    public PortRange[]? AllowedHttpPorts { get; set; }

    public Func<string, CancellationToken, Task<IPAddress[]>>? Resolve { get; set; }

    /// <summary>Fault injection: wraps the engine's node connector.</summary>
    public Func<INodeConnector, INodeConnector>? WrapConnector { get; set; }

    public long MaxConnections { get; set; } = 10_000;

    public bool PoolUpstream { get; set; } = true;

    /// <summary>Makes the engine's outbound sockets (default: <see cref="Engine.Transport.TcpSocket.Create"/>); a test's to run out of descriptors on cue.</summary>
    public Func<System.Net.Sockets.AddressFamily, Engine.Transport.TcpSocket>? OpenSocket { get; set; }

    /// <summary>The main listener expects a PROXY protocol header on every connection.</summary>
    public bool ProxyProtocol { get; set; }

    /// <summary>Where access-log lines go instead of the captured buffer (e.g. <see cref="Stream.Null"/> when measuring allocations).</summary>
    public Stream? AccessLogSink { get; set; }

    /// <summary><c>AccessLog:Level = errors</c>: only lines that count as errors (no success is sampled in).</summary>
    public bool AccessLogErrorsOnly { get; set; }

    public TimeSpan Drain { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The pool; by default one direct node named <c>local</c> tagged us/dc.</summary>
    public List<Engine.Upstream.NodeOptions> Nodes { get; set; } = [new() { Id = "local", Type = Engine.Upstream.NodeType.Direct, Country = "us", Network = "dc" }];

    public NodeHealthPolicy? Health { get; set; }

    /// <summary>Sessions for the default memory state (ignored when <see cref="State"/> is given).</summary>
    public ISessionStore? Sessions { get; set; }

    public long? CreditPoolBytes { get; set; }

    public Engine.Limits.OverloadMonitor? Overload { get; set; }

    public EngineMetrics? Metrics { get; set; }

    public Engine.Auth.AuthFailureThrottle? AuthThrottle { get; set; }

    /// <summary>The shared state; default: a memory store over <see cref="Sessions"/>.</summary>
    public Engine.State.IStateStore? State { get; set; }

    public int MaxAttempts { get; set; } = 3;

    /// <summary>Also listen for SOCKS5 (<see cref="ProxyFixture.SocksEndPoint"/>).</summary>
    public bool Socks { get; set; }

    /// <summary>The main listener tells HTTP from SOCKS5 by the first byte.</summary>
    public bool AutoDetect { get; set; }

    /// <summary>Also listen for HTTP over TLS with this certificate (<see cref="ProxyFixture.TlsEndPoint"/>).</summary>
    public Engine.Transport.TlsCertificateSource? Tls { get; set; }

    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Probe ejected http/socks5 nodes with a TCP connect this often (production's default is on, 5 s); null: no prober.</summary>
    public TimeSpan? ProbeInterval { get; set; }

    /// <summary>The listeners' accept, for fault injection (<see cref="ProxyServer.Accept"/>); null: the socket's own.</summary>
    public Func<System.Net.Sockets.Socket, ValueTask<System.Net.Sockets.Socket>>? Accept { get; set; }

    public List<Package> Packages { get; } =
    [
        new Package("demo", ProxyFixture.Key, defaultRules: "country-any"),
        new Package("paused", "paused-key", PackageStatus.Paused),
        new Package("suspended", "suspended-key", PackageStatus.Suspended),
        new Package("tunnels-only", "tunnels-key", allowedProtocols: ProxyProtocols.Https),
        new Package("elsewhere", "elsewhere-key", ipAllowlist: [IPNetwork.Parse("192.0.2.0/24")]),
    ];
}
