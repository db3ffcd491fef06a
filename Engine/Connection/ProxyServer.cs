using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>
/// The data path assembled: listeners (Transport) hand each client to a <see cref="ProxyConnection"/>.
/// Stopping is graceful: stop accepting, let requests and tunnels in flight finish for up to
/// the drain period (idle keep-alive connections close at once), then cut what is left.
/// </summary>
internal sealed class ProxyServer : IAsyncDisposable
{
    private readonly ServicesHandle _handle;
    private readonly List<SocketListener> _listeners = [];
    private readonly CancellationTokenSource _draining = new();
    private readonly CancellationTokenSource _aborted = new();
    private readonly ConnectionCounter _counter;
    private readonly ConnectionPool _connections;
    private readonly int _backlog;

    public ProxyServer(ProxyServices services, long maxConnections, int backlog = 4096)
    {
        _handle = new ServicesHandle(services);
        _connections = new ConnectionPool(_handle, _draining.Token, _aborted.Token);
        _counter = new ConnectionCounter(maxConnections);
        _backlog = backlog;
    }

    /// <summary>The configuration in force.</summary>
    public ProxyServices Services => _handle.Current;

    /// <summary>
    /// Installs a reloaded configuration: new connections and the next request of every open
    /// connection use it; requests and tunnels in flight finish on the one they started with.
    /// </summary>
    public ProxyServices Swap(ProxyServices next) => _handle.Swap(next);

    public IReadOnlyList<IPEndPoint> EndPoints => _listeners.Select(l => l.EndPoint).ToArray();

    public long OpenConnections => _counter.Current;

    /// <summary>Connection objects waiting for their next client (<see cref="ConnectionPool"/>).</summary>
    internal int FreeConnectionObjects => _connections.Free;

    /// <summary>Tunnel handoffs and relays waiting for their next CONNECT (<see cref="ConnectionPool.RentTunnel"/>).</summary>
    internal int FreeTunnelObjects => _connections.FreeTunnels;

    /// <summary>Accepts retried after a pause because the process was out of descriptors or memory (every listener).</summary>
    public long AcceptPauses => _listeners.Sum(static l => l.AcceptPauses);

    /// <summary>The tests' fault seam into every listener's accept (<see cref="SocketListener.Accept"/>); null: the socket's own.</summary>
    internal Func<System.Net.Sockets.Socket, ValueTask<System.Net.Sockets.Socket>>? Accept { get; init; }

    /// <summary>Every listener's accept loop is running (what the systemd watchdog vouches for).</summary>
    public bool IsAccepting => _listeners.Count > 0 && _listeners.TrueForAll(l => l.IsAccepting);

    /// <summary>Binds and starts every endpoint; on a bind failure nothing stays bound.</summary>
    public void Start(IEnumerable<IPEndPoint> endPoints) => Start(endPoints.Select(e => new ListenerBinding(e, ClientProtocol.Http)));

    /// <summary>Binds every listener first (so a taken port fails the start cleanly), then accepts on all.</summary>
    public void Start(IEnumerable<ListenerBinding> listeners)
    {
        try
        {
            foreach (ListenerBinding binding in listeners)
            {
                ClientProtocol protocol = binding.Protocol;
                TlsCertificateSource? tls = binding.Certificate;
                bool proxyHeader = binding.ProxyProtocol;
                Func<SocketConnection, ValueTask> serve = tls is null
                    ? transport => RunConnectionAsync(transport, protocol, proxyHeader)
                    : transport => new ValueTask(RunTlsConnectionAsync(transport, tls, proxyHeader));
                Func<SocketConnection, ValueTask> reject = protocol == ClientProtocol.Socks5 ? transport => new ValueTask(RejectOverloadedSocksAsync(transport))
                    : protocol == ClientProtocol.Auto && tls is null && !proxyHeader ? transport => new ValueTask(RejectOverloadedEitherAsync(transport))
                    : tls is null ? transport => new ValueTask(RejectOverloadedAsync(transport))
                    : transport => new ValueTask(RejectOverloadedTlsAsync(transport, tls));
                _listeners.Add(binding.Inherited is { } inherited
                    ? new SocketListener(inherited, _counter, serve, reject)
                    : new SocketListener(binding.EndPoint, _backlog, _counter, serve, reject));
            }
        }
        catch
        {
            foreach (SocketListener listener in _listeners)
            {
                listener.Dispose();
            }

            _listeners.Clear();
            throw;
        }

        foreach (SocketListener listener in _listeners)
        {
            if (Accept is not null)
            {
                listener.Accept = Accept;
            }

            listener.Start();
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask RunConnectionAsync(SocketConnection transport, ClientProtocol protocol, bool proxyHeader)
    {
        IPEndPoint? client = proxyHeader ? await ReadProxyHeaderAsync(transport).ConfigureAwait(false) : transport.RemoteEndPoint;
        if (client is null)
        {
            return;
        }

        TunnelHandoff? tunnel = await _connections.Rent(transport.Input, transport.Output, client, protocol).RunAsync().ConfigureAwait(false);
        if (tunnel is not null)
        {
            transport.HandOver(tunnel);   // the listener runs it and ends the connection with it
        }
    }

    /// <summary>
    /// The client's address from the load balancer's PROXY header (the socket's peer when the header
    /// names none), read within RequestHeadTimeout; null when there is no valid header in time, and
    /// the connection is then closed unanswered: a balancer that sends none is misconfigured, and
    /// anyone else reaching this port directly must not be believed about their address.
    /// </summary>
    private async Task<IPEndPoint?> ReadProxyHeaderAsync(SocketConnection transport)
    {
        PipeReader input = transport.Input;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_aborted.Token);
        deadline.CancelAfter(_handle.Current.Limits.RequestHeadTimeout);
        try
        {
            while (true)
            {
                ReadResult read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                ProxyHeaderStatus status = ProxyProtocolHeader.TryParse(read.Buffer, out int consumed, out IPEndPoint? source);
                if (status == ProxyHeaderStatus.Complete)
                {
                    input.AdvanceTo(read.Buffer.GetPosition(consumed));
                    return source ?? transport.RemoteEndPoint;
                }

                input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                if (status == ProxyHeaderStatus.Invalid || read.IsCompleted)
                {
                    return null;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionResetException)
        {
            return null;
        }
    }

    /// <summary>
    /// https listener: TLS from the client (ALPN http/1.1) within the request-head deadline, then
    /// exactly the HTTP listener's behaviour over the decrypted stream (CONNECT inside TLS included).
    /// </summary>
    private async Task RunTlsConnectionAsync(SocketConnection transport, TlsCertificateSource certificate, bool proxyHeader)
    {
        // The balancer's header comes before the TLS handshake.
        IPEndPoint? client = proxyHeader ? await ReadProxyHeaderAsync(transport).ConfigureAwait(false) : transport.RemoteEndPoint;
        if (client is null)
        {
            return;
        }

        await using var tls = new SslStream(new DuplexPipeStream(transport.Input, transport.Output), leaveInnerStreamOpen: false);
        if (!await HandshakeAsync(tls, certificate).ConfigureAwait(false))
        {
            return;   // slow, broken or not TLS at all: nothing can be answered in HTTP
        }

        PipeReader input = PipeReader.Create(tls, new StreamPipeReaderOptions(leaveOpen: true, useZeroByteReads: true));
        PipeWriter output = new TlsClientWriter(PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true)), tls, transport.Output);
        try
        {
            TunnelHandoff? tunnel = await _connections.Rent(input, output, client, ClientProtocol.Http).RunAsync().ConfigureAwait(false);
            if (tunnel is not null)
            {
                await tunnel.RunAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            await output.CompleteAsync().ConfigureAwait(false);
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    // A SOCKS client cannot read an HTTP answer: refusing its greeting (no acceptable method) and
    // closing is the nearest thing RFC 1928 has to "try later".
    private async Task RejectOverloadedSocksAsync(SocketConnection transport)
    {
        transport.Output.Write(SocksNoAcceptableMethod);
        await transport.Output.FlushAsync().ConfigureAwait(false);
        LogOverloaded(transport.RemoteEndPoint, CorrelationId.Next(), 0);
    }

    private static ReadOnlySpan<byte> SocksNoAcceptableMethod => [0x05, 0xFF];

    /// <summary>
    /// An http-and-socks5 listener's answer at the ceiling: its first byte says which refusal the
    /// client can read (errors.md: a SOCKS5 client gets the nearest RFC 1928 reply, not an HTTP
    /// 503). Waiting for it is bounded by RequestHeadTimeout, as the https refusal's handshake is;
    /// a client that sends nothing gets the 503.
    /// </summary>
    private async Task RejectOverloadedEitherAsync(SocketConnection transport)
    {
        bool socks = false;
        using (var deadline = new CancellationTokenSource(_handle.Current.Limits.RequestHeadTimeout, _handle.Current.Time))
        {
            try
            {
                ReadResult read = await transport.Input.ReadAsync(deadline.Token).ConfigureAwait(false);
                socks = !read.Buffer.IsEmpty && read.Buffer.FirstSpan[0] == 0x05;
                transport.Input.AdvanceTo(read.Buffer.Start);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.Sockets.SocketException)
            {
                // Silent or gone: the HTTP answer below, which a gone client never reads.
            }
        }

        await (socks ? RejectOverloadedSocksAsync(transport) : RejectOverloadedAsync(transport)).ConfigureAwait(false);
    }

    private async Task RejectOverloadedAsync(SocketConnection transport)
    {
        // Over the connection ceiling: answer without reading the request, then close.
        CorrelationId id = CorrelationId.Next();
        int written = WriteOverloaded(transport.Output, id);
        await transport.Output.FlushAsync().ConfigureAwait(false);
        LogOverloaded(transport.RemoteEndPoint, id, written);
    }

    /// <summary>
    /// The https listener's answer at the ceiling: the same 503, inside TLS. Plain text written into a socket
    /// whose client speaks TLS reaches it as a broken record, never as an answer; the handshake (bounded by
    /// RequestHeadTimeout, as for any client) is the price of a readable refusal.
    /// </summary>
    private async Task RejectOverloadedTlsAsync(SocketConnection transport, TlsCertificateSource certificate)
    {
        CorrelationId id = CorrelationId.Next();
        await using var tls = new SslStream(new DuplexPipeStream(transport.Input, transport.Output), leaveInnerStreamOpen: false);
        int written = 0;
        if (await HandshakeAsync(tls, certificate).ConfigureAwait(false))
        {
            PipeWriter output = PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true));
            try
            {
                written = WriteOverloaded(output, id);
                await output.FlushAsync().ConfigureAwait(false);
            }
            catch (IOException)
            {
                written = 0;   // the client left first
            }
            finally
            {
                await output.CompleteAsync().ConfigureAwait(false);
            }
        }

        LogOverloaded(transport.RemoteEndPoint, id, written);
    }

    private int WriteOverloaded(PipeWriter output, CorrelationId id)
    {
        ProxyFailure failure = ProxyFailures.ConnectionCeiling;
        return _handle.Current.Errors.Write(output, new ErrorResponse(failure.Code)
        {
            Detail = failure.Detail,
            CorrelationId = id,
            RetryAfterSeconds = failure.RetryAfterSeconds,
            LimitedBy = failure.LimitedBy,
            KeepAlive = false,
        });
    }

    // A refusal at the ceiling is a request the operator must be able to find: one access-log line (errors are
    // never sampled away) and the overload counter, as for the connection's own 503s.
    private void LogOverloaded(IPEndPoint client, CorrelationId id, int bytesOut)
    {
        ProxyServices services = _handle.Current;
        ProxyFailure failure = ProxyFailures.ConnectionCeiling;
        services.Metrics?.Limited(failure.LimitedBy);
        if (services.AccessLog is not { } log)
        {
            return;
        }

        Span<byte> cid = stackalloc byte[CorrelationId.Length];
        id.TryFormat(cid, out _);
        log.Write(new AccessLogEntry
        {
            Time = services.Time.GetUtcNow(),
            CorrelationId = cid,
            Client = client,
            Status = bytesOut > 0 ? ErrorCatalog.Get(failure.Code).Status : 0,
            Code = ErrorCatalog.Get(failure.Code).Name,
            BytesOut = bytesOut,
            Termination = failure.Termination,
        });
    }

    private async Task<bool> HandshakeAsync(SslStream tls, TlsCertificateSource certificate)
    {
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_aborted.Token);
        handshake.CancelAfter(_handle.Current.Limits.RequestHeadTimeout);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificate.Context,
                ApplicationProtocols = [SslApplicationProtocol.Http11],
                ClientCertificateRequired = false,
            }, handshake.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or AuthenticationException or IOException)
        {
            return false;
        }
    }

    /// <summary>Graceful stop: no new connections, in-flight work gets <paramref name="drain"/>.</summary>
    /// <returns>How many connections were still open at the drain deadline and were cut.</returns>
    // How long the drain deadline's cut waits for in-band answers (503 to requests that had no
    // answer yet) before it closes what is left.
    private static readonly TimeSpan AnswerGrace = TimeSpan.FromMilliseconds(100);

    public async Task<int> StopAsync(TimeSpan drain)
    {
        foreach (SocketListener listener in _listeners)
        {
            await listener.StopAcceptingAsync().ConfigureAwait(false);
        }

        await _draining.CancelAsync().ConfigureAwait(false);
        if (await WaitForConnectionsAsync(drain).ConfigureAwait(false))
        {
            return 0;
        }

        // Counted when the deadline passes, before anything is cut: once the abort token fires, a
        // tunnel it kills can end (and leave the list) before the listeners are walked, and the
        // count read after the cut said "0 still open" after cutting two (issue 19.8).
        int cut = _listeners.Sum(static l => l.OpenConnections);
        await _aborted.CancelAsync().ConfigureAwait(false);

        // The abort ends every wait on its loop (a request waiting for its answer's head, a body
        // read, a tunnel); a request that had sent nothing yet answers 503 OVERLOADED there. A
        // moment for those answers to go out before the sockets are closed under them; what is
        // still running then (a send blocked on a client that stopped reading) is cut.
        if (!await WaitForConnectionsAsync(AnswerGrace).ConfigureAwait(false))
        {
            foreach (SocketListener listener in _listeners)
            {
                listener.AbortAll();
            }

            await WaitForConnectionsAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        return cut;
    }

    // Every listener's connections against one deadline: waited one listener after another, each
    // with its own timer, three listeners took three drain periods (60 s by default, past systemd's
    // TimeoutStopSec).
    private async Task<bool> WaitForConnectionsAsync(TimeSpan timeout)
    {
        bool[] drained = await Task.WhenAll(_listeners.Select(l => l.WaitForConnectionsAsync(timeout))).ConfigureAwait(false);
        return drained.All(static d => d);
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
        foreach (SocketListener listener in _listeners)
        {
            listener.Dispose();
        }

        _connections.Dispose();
        _draining.Dispose();
        _aborted.Dispose();
    }
}
