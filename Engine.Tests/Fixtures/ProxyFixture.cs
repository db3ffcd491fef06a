using System.Net;
using System.Net.Sockets;
using Engine.Auth;
using Engine.Connection;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Http;
using Engine.Targets;
using Engine.Tests.Tunnel;
using Engine.Upstream;

namespace Engine.Tests.Fixtures;

/// <summary>
/// The proxy's connection layer on a real loopback listener: each accepted socket runs a
/// <see cref="ProxyConnection"/> over socket pipes. Access-log lines are captured for assertions.
/// </summary>
internal sealed class ProxyFixture : IAsyncDisposable
{
    public const string Key = "demo-key";

    private readonly Socket _listener;
    private readonly CancellationTokenSource _draining = new();
    private readonly CancellationTokenSource _aborted = new();
    private readonly Task _accept;
    private readonly List<Task> _connections = [];
    private readonly MemoryStream _log = new();
    private readonly Stream _logSink;

    public ProxyFixture(Action<ProxyFixtureOptions>? configure = null)
    {
        var options = new ProxyFixtureOptions();
        configure?.Invoke(options);
        // Synchronized: the log's writer task and the test read the same stream.
        _logSink = Stream.Synchronized(_log);
        AccessLog = new AccessLog(_logSink);
        Services = new ProxyServices
        {
            Limits = options.Limits,
            ParserLimits = HttpParserLimits.Default,
            Errors = new ErrorWriter(new ErrorWriterOptions()),
            Packages = new PackageDirectory(options.Packages),
            Policy = new TargetPolicy(options.AllowPrivateTargets, options.AllowedConnectPorts, options.BlockedDomains),
            Direct = new DirectConnector(
                new DnsCache(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2), resolve: options.Resolve),
                new TargetPolicy(options.AllowPrivateTargets, options.AllowedConnectPorts, options.BlockedDomains),
                options.Limits.ConnectTimeout),
            AccessLog = AccessLog,
            DirectNodeId = "local",
        };

        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        _accept = AcceptAsync();
    }

    public ProxyServices Services { get; }

    public AccessLog AccessLog { get; }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public Uri Uri => new($"http://127.0.0.1:{EndPoint.Port}");

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            socket.NoDelay = true;
            lock (_connections)
            {
                _connections.Add(ServeAsync(socket));
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            var pipes = new SocketPipes(socket);
            using (var connection = new ProxyConnection(Services, pipes.Input, pipes.Output, (IPEndPoint)socket.RemoteEndPoint!, _draining.Token, _aborted.Token))
            {
                await connection.RunAsync();
            }

            await pipes.DisposeAsync();
        }
    }

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
        _listener.Dispose();
        await _accept;
        await _draining.CancelAsync();
        await _aborted.CancelAsync();
        Task[] running;
        lock (_connections)
        {
            running = [.. _connections];
        }

        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(30));
        await AccessLog.DisposeAsync();
        _draining.Dispose();
        _aborted.Dispose();
    }
}

internal sealed class ProxyFixtureOptions
{
    public ConnectionLimits Limits { get; set; } = new();

    public bool AllowPrivateTargets { get; set; } = true;

    public int[]? AllowedConnectPorts { get; set; }

    public string[]? BlockedDomains { get; set; }

    public Func<string, CancellationToken, Task<IPAddress[]>>? Resolve { get; set; }

    public List<Package> Packages { get; } =
    [
        new Package("demo", ProxyFixture.Key, defaultRules: "country-any"),
        new Package("paused", "paused-key", PackageStatus.Paused),
        new Package("suspended", "suspended-key", PackageStatus.Suspended),
        new Package("tunnels-only", "tunnels-key", allowedProtocols: ProxyProtocols.Https),
        new Package("elsewhere", "elsewhere-key", ipAllowlist: [IPNetwork.Parse("192.0.2.0/24")]),
    ];
}
