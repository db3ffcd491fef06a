using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Engine.Connection;
using Engine.Diagnostics;
using Engine.State;
using Engine.Upstream;

namespace Engine.Hosting;

/// <summary>
/// Before the listeners open, a JIT-compiled engine serves a few hundred requests to itself so the
/// request path is compiled at its final tier when the first client comes (issue 18: a fresh
/// process on the JIT served its first seconds below its steady rate while it compiled). Runs the
/// real data path (listener, parser, authentication, rules, router, connector, exchange, tunnel
/// relay, access-log formatting) on a throwaway set of services: its own package with a random
/// key, its own nodes, a memory store, a meter of its own and an access log that writes nowhere,
/// all on loopback ports the kernel picks, torn down before the engine's own start. Nothing of it
/// reaches the configured store, metrics, log or nodes. A no-op in a Native AOT build (nothing to
/// compile) and with <c>Engine:WarmUp</c> false.
/// </summary>
/// <remarks>
/// Tier-up needs calls, not time: a method moves to tier 1 after 30 calls (the tiering delay is
/// 0 in Engine.csproj's runtimeconfig), loops through on-stack replacement. The warm-up makes well
/// over 30 of each kind of call, then waits until the runtime stops compiling (the background
/// tier-1 work) or its budget ends. A warm-up that fails is logged and skipped: it never keeps the
/// engine from starting.
/// </remarks>
internal static class WarmUp
{
    /// <summary>Keep-alive GETs per client connection, and connections: 240 requests, half through each node kind.</summary>
    internal const int RequestsPerConnection = 60;
    internal const int Connections = 4;
    internal const int Requests = Connections * RequestsPerConnection;

    /// <summary>CONNECT + GET + close, each on a new connection: the accept and connect paths too.</summary>
    internal const int Tunnels = 40;

    /// <summary>TLS to the proxy (when a listener speaks it): connections one after another, a handshake and keep-alive GETs each.</summary>
    internal const int TlsConnections = 10;
    internal const int RequestsPerTlsConnection = 4;   // even: half of each connection's GETs go to each node
    internal const int TlsRequests = TlsConnections * RequestsPerTlsConnection;

    // The whole warm-up, serving and waiting for the compiler, stays within this.
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(4);

    // The runtime is done compiling once this long passes without a new method compiled.
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(100);

    // Shaped like a common origin's (nginx: Server, Date, Connection), so the response parser's
    // paths for those fields are warm too.
    private static readonly byte[] OriginAnswer =
        "HTTP/1.1 200 OK\r\nServer: warm-up\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"u8.ToArray();
    private static readonly byte[] TunnelAnswer = "HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray();

    /// <summary>Runs the warm-up when this process compiles code at run time; a skipped or failed one says why in its result.</summary>
    public static async Task<WarmUpResult> RunAsync(EngineOptions options, CancellationToken cancellationToken)
    {
        if (!options.WarmUp)
        {
            return WarmUpResult.Skipped("Engine:WarmUp is false");
        }

        if (!RuntimeFeature.IsDynamicCodeCompiled)
        {
            return WarmUpResult.Skipped("ahead-of-time compiled: nothing to warm");
        }

        long started = Stopwatch.GetTimestamp();
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(Budget);
        try
        {
            return await ServeAsync(options, started, budget.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException
            or System.Security.Authentication.AuthenticationException or System.Security.Cryptography.CryptographicException)
        {
            return WarmUpResult.Failed(e.GetType().Name + ": " + e.Message, Stopwatch.GetElapsedTime(started));
        }
    }

    private static async Task<WarmUpResult> ServeAsync(EngineOptions options, long started, CancellationToken cancel)
    {
        long compiledBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        using var origin = new LoopbackOrigin();
        origin.Start(cancel);
        string key = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        EngineOptions warm = Options(options, origin.Port, key);

        var state = new MemoryStateStore(TimeProvider.System);
        AccessLogOptions logged = options.AccessLog;
        AccessLog? log = AccessLogFactory.Create(
            new AccessLogOptions { Enabled = logged.Enabled, ErrorsOnly = logged.ErrorsOnly, Format = logged.Format, SuccessSampleRate = logged.SuccessSampleRate },
            () => Stream.Null);
        using var meters = new OwnMeters();
        var metrics = new EngineMetrics(() => false, () => 0, meters);
        ProxyServices services = ProxyServicesFactory.Create(warm, log, state, metrics: metrics);
        var server = new ProxyServer(services, maxConnections: 256);
        bool socks = ServesSocks5(options);
        ListenerOptions? https = options.Listeners.FirstOrDefault(static l => l.Protocol == ListenerProtocol.Https);
        Transport.TlsCertificateSource? certificate = null;
        int requests, tunnels, socksTunnels, tlsRequests;
        try
        {
            // HTTP always; SOCKS5 and TLS to the proxy when a listener will speak them (their
            // handshakes are code no plain HTTP request runs), TLS with the listener's own certificate.
            var loopback = new IPEndPoint(IPAddress.Loopback, 0);
            var bindings = new List<ListenerBinding> { new(loopback, ClientProtocol.Http) };
            if (socks)
            {
                bindings.Add(new ListenerBinding(loopback, ClientProtocol.Socks5));
            }

            if (https is not null)
            {
                certificate = new Transport.TlsCertificateSource(https.Certificate!, https.CertificateKey, https.CertificatePassword);
                bindings.Add(new ListenerBinding(loopback, ClientProtocol.Http, certificate));
            }

            server.Start(bindings);
            IPEndPoint proxy = server.EndPoints[0];
            var clients = new Task<int>[Connections + 3];
            for (int i = 0; i < Connections; i++)
            {
                clients[i] = PlainGetAsync(proxy, origin.Port, key, i, cancel);
            }

            clients[Connections] = TunnelAsync(proxy, origin.Port, key, cancel);
            clients[Connections + 1] = socks ? SocksTunnelAsync(server.EndPoints[1], origin.Port, key, cancel) : Task.FromResult(0);
            clients[Connections + 2] = certificate is not null ? TlsGetAsync(server.EndPoints[^1], certificate.Current, origin.Port, key, cancel) : Task.FromResult(0);
            await Task.WhenAll(clients).ConfigureAwait(false);
            requests = clients[..Connections].Sum(static c => c.Result);
            tunnels = clients[Connections].Result;
            socksTunnels = clients[Connections + 1].Result;
            tlsRequests = clients[Connections + 2].Result;
        }
        finally
        {
            await server.DisposeAsync().ConfigureAwait(false);
            certificate?.Dispose();
            services.Stop();
            await state.DisposeAsync().ConfigureAwait(false);
            if (log is not null)
            {
                await log.DisposeAsync().ConfigureAwait(false);
            }
        }

        bool settled = await WaitForCompilerAsync(cancel).ConfigureAwait(false);
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount() - compiledBefore;
        return new WarmUpResult(WarmUpOutcome.Ran, requests, tunnels, compiled, settled, Stopwatch.GetElapsedTime(started), null)
        {
            ThroughHttpNode = origin.ThroughHttpNode,
            SocksTunnels = socksTunnels,
            SocksExpected = socks,
            TlsRequests = tlsRequests,
            TlsExpected = https is not null,
        };
    }

    /// <summary>SOCKS5 is warmed too when a listener will speak it (its handshake is code no HTTP request runs).</summary>
    internal static bool ServesSocks5(EngineOptions options) =>
        options.Listeners.Any(static l => l.Protocol is ListenerProtocol.Socks5 or ListenerProtocol.HttpAndSocks5);

    /// <summary>
    /// The configuration the warm-up serves: the engine's own limits, parser limits, error settings
    /// and access-log format; one package (a random key, no limits), a direct node and an http node
    /// (the loopback origin acting as an upstream proxy), private targets allowed for its port only
    /// (loopback is all it reaches).
    /// </summary>
    internal static EngineOptions Options(EngineOptions options, int originPort, string key) => options with
    {
        Listeners = [],
        Admin = null,
        NodeSources = [],
        State = new StateOptions(),
        Credits = new CreditsOptions(),
        Packages =
        [
            // Key authentication only, with a key nobody else knows: no other local process can
            // use the warm-up's listener while it is open (IP authentication for loopback would
            // let any of them through it).
            new PackageOptions { Id = "warm-up", Key = key, AllowedProtocols = Auth.ProxyProtocols.All },
        ],
        Nodes =
        [
            new NodeOptions { Id = "warm-up-direct", Type = NodeType.Direct, Country = "us", Network = "dc" },
            new NodeOptions { Id = "warm-up-http", Type = NodeType.Http, Address = "127.0.0.1:" + originPort, Country = "de", Network = "dc" },
        ],
        Security = new SecurityOptions
        {
            AllowPrivateTargets = true,
            AllowedConnectPorts = [originPort],
            AllowedHttpPorts = [new Targets.PortRange(originPort, originPort)],
            AuthFailuresPerMinute = options.Security.AuthFailuresPerMinute,
        },
        Routing = new RoutingOptions { ExposeNode = options.Routing.ExposeNode },
    };

    /// <summary>Keep-alive GETs on a plain connection (<see cref="GetAsync"/>).</summary>
    private static async Task<int> PlainGetAsync(IPEndPoint proxy, int originPort, string key, int connection, CancellationToken cancel)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(proxy, cancel).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        return await GetAsync(stream, originPort, key, connection, RequestsPerConnection, cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// Keep-alive GETs over TLS to the proxy, <see cref="TlsConnections"/> connections one after
    /// another (a handshake each). The client trusts exactly the certificate the warm-up's listener
    /// presents: the one it loaded itself.
    /// </summary>
    private static async Task<int> TlsGetAsync(IPEndPoint proxy, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, int originPort, string key, CancellationToken cancel)
    {
        string expected = certificate.Thumbprint;
        int served = 0;
        for (int connection = 0; connection < TlsConnections; connection++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(proxy, cancel).ConfigureAwait(false);
            await using var tls = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(
                new System.Net.Security.SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    RemoteCertificateValidationCallback = (_, presented, _, _) => presented is System.Security.Cryptography.X509Certificates.X509Certificate2 c && c.Thumbprint == expected,
                },
                cancel).ConfigureAwait(false);
            int answered = await GetAsync(tls, originPort, key, connection, RequestsPerTlsConnection, cancel).ConfigureAwait(false);
            served += answered;
            if (answered < RequestsPerTlsConnection)
            {
                break;
            }
        }

        return served;
    }

    /// <summary>Keep-alive absolute-URI GETs on one connection, alternating the two nodes, each with a sticky session.</summary>
    private static async Task<int> GetAsync(Stream stream, int originPort, string key, int connection, int count, CancellationToken cancel)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            int served = 0;
            for (int i = 0; i < count; i++)
            {
                string country = i % 2 == 0 ? "us" : "de";
                string request = $"GET http://127.0.0.1:{originPort}/warm-up/{i} HTTP/1.1\r\nHost: 127.0.0.1:{originPort}\r\n"
                    + $"Proxy-Authorization: Basic {Credentials($"country-{country}-session-w{country}{connection}", key)}\r\nUser-Agent: engine-warm-up\r\nAccept: */*\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cancel).ConfigureAwait(false);
                if (!await ReadAnswerAsync(stream, buffer, withBody: true, cancel).ConfigureAwait(false))
                {
                    break;
                }

                served++;
            }

            return served;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>CONNECT tunnels: the CONNECT and its 200 open each (see <see cref="TunnelsAsync"/>).</summary>
    private static Task<int> TunnelAsync(IPEndPoint proxy, int originPort, string key, CancellationToken cancel) =>
        TunnelsAsync(proxy, async (stream, buffer, i) =>
        {
            string connect = $"CONNECT 127.0.0.1:{originPort} HTTP/1.1\r\nHost: 127.0.0.1:{originPort}\r\n"
                + $"Proxy-Authorization: Basic {Credentials(i % 2 == 0 ? "country-us" : "country-de", key)}\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(connect), cancel).ConfigureAwait(false);
            return await ReadAnswerAsync(stream, buffer, withBody: false, cancel).ConfigureAwait(false);
        }, cancel);

    /// <summary>
    /// SOCKS5 tunnels (RFC 1928, username and password per RFC 1929: the rules and the key): the
    /// greeting, the login and a CONNECT to the origin's IPv4 address open each.
    /// </summary>
    private static Task<int> SocksTunnelAsync(IPEndPoint proxy, int originPort, string key, CancellationToken cancel) =>
        TunnelsAsync(proxy, async (stream, buffer, i) =>
        {
            await stream.WriteAsync(new byte[] { 5, 1, 2 }, cancel).ConfigureAwait(false);   // version 5, one method: username/password
            if (await stream.ReadAtLeastAsync(buffer.AsMemory(0, 2), 2, throwOnEndOfStream: false, cancel).ConfigureAwait(false) < 2 || buffer[0] != 5 || buffer[1] != 2)
            {
                return false;
            }

            byte[] user = Encoding.ASCII.GetBytes(i % 2 == 0 ? "country-us" : "country-de");
            byte[] password = Encoding.ASCII.GetBytes(key);
            await stream.WriteAsync((byte[])[1, (byte)user.Length, .. user, (byte)password.Length, .. password], cancel).ConfigureAwait(false);
            if (await stream.ReadAtLeastAsync(buffer.AsMemory(0, 2), 2, throwOnEndOfStream: false, cancel).ConfigureAwait(false) < 2 || buffer[1] != 0)
            {
                return false;
            }

            await stream.WriteAsync(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, (byte)(originPort >> 8), (byte)originPort }, cancel).ConfigureAwait(false);
            return await stream.ReadAtLeastAsync(buffer.AsMemory(0, 10), 10, throwOnEndOfStream: false, cancel).ConfigureAwait(false) == 10 && buffer[1] == 0;   // IPv4 bound address: 10 bytes
        }, cancel);

    /// <summary>
    /// <see cref="Tunnels"/> tunnels one after another, each on a new connection: <paramref name="open"/>
    /// opens it (false: refused, and the rest are not tried), then a GET through it and its answer, close.
    /// Alternate tunnels ask for the two nodes' countries.
    /// </summary>
    private static async Task<int> TunnelsAsync(IPEndPoint proxy, Func<Stream, byte[], int, Task<bool>> open, CancellationToken cancel)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            int served = 0;
            for (int i = 0; i < Tunnels; i++)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(proxy, cancel).ConfigureAwait(false);
                await using var stream = new NetworkStream(socket, ownsSocket: false);
                if (!await open(stream, buffer, i).ConfigureAwait(false))
                {
                    break;
                }

                await stream.WriteAsync("GET /warm-up HTTP/1.1\r\nHost: origin\r\n\r\n"u8.ToArray(), cancel).ConfigureAwait(false);
                if (!await ReadAnswerAsync(stream, buffer, withBody: true, cancel).ConfigureAwait(false))
                {
                    break;
                }

                socket.Shutdown(SocketShutdown.Send);
                served++;
            }

            return served;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string Credentials(string rules, string key) => Convert.ToBase64String(Encoding.ASCII.GetBytes(rules + ":" + key));

    /// <summary>Reads one answer: a 200 head, and with <paramref name="withBody"/> its two-byte body. False on anything else.</summary>
    private static async Task<bool> ReadAnswerAsync(Stream stream, byte[] buffer, bool withBody, CancellationToken cancel)
    {
        int filled = 0;
        while (true)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(filled), cancel).ConfigureAwait(false);
            if (read == 0)
            {
                return false;
            }

            filled += read;
            int end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end < 0)
            {
                if (filled == buffer.Length)
                {
                    return false;
                }

                continue;
            }

            if (!buffer.AsSpan(0, filled).StartsWith("HTTP/1.1 200 "u8))
            {
                return false;
            }

            if (!withBody || filled >= end + 4 + 2)
            {
                return true;
            }
        }
    }

    /// <summary>Waits until no method has been compiled for <see cref="Quiet"/>; false when the budget ended first.</summary>
    private static async Task<bool> WaitForCompilerAsync(CancellationToken cancel)
    {
        long last = System.Runtime.JitInfo.GetCompiledMethodCount();
        long quietSince = Stopwatch.GetTimestamp();
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != last)
            {
                last = now;
                quietSince = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(quietSince) >= Quiet)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The warm-up's stand-in for the internet on a loopback port: answers every request head with
    /// a 200 and a two-byte body, and a CONNECT (it also plays the upstream http proxy) with a 200
    /// after which it answers the tunnelled requests the same way.
    /// </summary>
    private sealed class LoopbackOrigin : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private int _throughHttpNode;

        /// <summary>Requests that came the upstream proxy's way (absolute-form or CONNECT): the http node's share.</summary>
        public int ThroughHttpNode => Volatile.Read(ref _throughHttpNode);

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public void Start(CancellationToken cancel)
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(64);
            _ = AcceptAsync(cancel);
        }

        public void Dispose() => _listener.Dispose();

        private async Task AcceptAsync(CancellationToken cancel)
        {
            try
            {
                while (true)
                {
                    Socket peer = await _listener.AcceptAsync(cancel).ConfigureAwait(false);
                    _ = AnswerAsync(peer, cancel);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The warm-up is over.
            }
        }

        private async Task AnswerAsync(Socket peer, CancellationToken cancel)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(8192);
            try
            {
                int filled = 0;
                while (true)
                {
                    int read = await peer.ReceiveAsync(buffer.AsMemory(filled), cancel).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }

                    filled += read;
                    int end;
                    while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) >= 0)
                    {
                        bool connect = buffer.AsSpan(0, filled).StartsWith("CONNECT "u8);
                        if (connect || buffer.AsSpan(0, filled).StartsWith("GET http://"u8))
                        {
                            Interlocked.Increment(ref _throughHttpNode);
                        }

                        await peer.SendAsync(connect ? TunnelAnswer : OriginAnswer, cancel).ConfigureAwait(false);
                        int rest = filled - (end + 4);
                        buffer.AsSpan(end + 4, rest).CopyTo(buffer);
                        filled = rest;
                    }

                    if (filled == buffer.Length)
                    {
                        return;   // not a request this origin answers
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The peer went away or the warm-up is over.
            }
            finally
            {
                peer.Dispose();
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>Meters of the warm-up's own (named apart from the engine's), so no listener of <c>Engine</c> counts its traffic.</summary>
    private sealed class OwnMeters : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(EngineMetrics.MeterName + ".WarmUp");
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (Meter meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
