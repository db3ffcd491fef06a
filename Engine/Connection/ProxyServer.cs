using System.Buffers;
using System.Net;
using Engine.Errors;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
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
    private readonly int _backlog;

    public ProxyServer(ProxyServices services, long maxConnections, int backlog = 4096)
    {
        _handle = new ServicesHandle(services);
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

    /// <summary>Accepts retried after a pause because the process was out of descriptors or memory (every listener).</summary>
    public long AcceptPauses => _listeners.Sum(static l => l.AcceptPauses);

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
                Func<SocketConnection, Task> serve = tls is null
                    ? transport => RunConnectionAsync(transport, protocol, proxyHeader)
                    : transport => RunTlsConnectionAsync(transport, tls, proxyHeader);
                Func<SocketConnection, Task> reject = protocol == ClientProtocol.Socks5 ? RejectOverloadedSocksAsync : RejectOverloadedAsync;
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
            listener.Start();
        }
    }

    private async Task RunConnectionAsync(SocketConnection transport, ClientProtocol protocol, bool proxyHeader)
    {
        IPEndPoint? client = proxyHeader ? await ReadProxyHeaderAsync(transport).ConfigureAwait(false) : transport.RemoteEndPoint;
        if (client is null)
        {
            return;
        }

        using var connection = new ProxyConnection(_handle, transport.Input, transport.Output, client, _draining.Token, _aborted.Token, protocol);
        await connection.RunAsync().ConfigureAwait(false);
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
        using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_aborted.Token))
        {
            handshake.CancelAfter(_handle.Current.Limits.RequestHeadTimeout);
            try
            {
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate.Current,
                    ApplicationProtocols = [SslApplicationProtocol.Http11],
                    ClientCertificateRequired = false,
                }, handshake.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or AuthenticationException or IOException)
            {
                return;   // slow, broken or not TLS at all: nothing can be answered in HTTP
            }
        }

        PipeReader input = PipeReader.Create(tls, new StreamPipeReaderOptions(leaveOpen: true));
        PipeWriter output = PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true));
        try
        {
            using var connection = new ProxyConnection(_handle, input, output, client, _draining.Token, _aborted.Token);
            await connection.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            await output.CompleteAsync().ConfigureAwait(false);
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    // A SOCKS client cannot read an HTTP answer: refusing its greeting (no acceptable method) and
    // closing is the nearest thing RFC 1928 has to "try later".
    private static async Task RejectOverloadedSocksAsync(SocketConnection transport)
    {
        transport.Output.Write((ReadOnlySpan<byte>)[0x05, 0xFF]);
        await transport.Output.FlushAsync().ConfigureAwait(false);
    }

    private async Task RejectOverloadedAsync(SocketConnection transport)
    {
        // Over the connection ceiling: answer without reading the request, then close.
        ProxyFailure failure = ProxyFailures.ConnectionCeiling;
        _handle.Current.Errors.Write(transport.Output, new ErrorResponse(failure.Code)
        {
            Detail = failure.Detail,
            CorrelationId = CorrelationId.Next(),
            RetryAfterSeconds = failure.RetryAfterSeconds,
            LimitedBy = failure.LimitedBy,
            KeepAlive = false,
        });
        await transport.Output.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Graceful stop: no new connections, in-flight work gets <paramref name="drain"/>.</summary>
    public async Task StopAsync(TimeSpan drain)
    {
        foreach (SocketListener listener in _listeners)
        {
            await listener.StopAcceptingAsync().ConfigureAwait(false);
        }

        await _draining.CancelAsync().ConfigureAwait(false);
        bool drained = true;
        foreach (SocketListener listener in _listeners)
        {
            drained &= await listener.WaitForConnectionsAsync(drain).ConfigureAwait(false);
        }

        if (!drained)
        {
            await _aborted.CancelAsync().ConfigureAwait(false);
            foreach (SocketListener listener in _listeners)
            {
                listener.AbortAll();
                await listener.WaitForConnectionsAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
        }
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

        _draining.Dispose();
        _aborted.Dispose();
    }
}
