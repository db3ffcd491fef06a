using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Engine.Transport;

/// <summary>
/// Accepts client connections on one endpoint and runs each on its own task. Connections beyond
/// the shared ceiling are handed to <c>onOverloaded</c> (a 503 OVERLOADED) instead of the proxy.
/// Stopping closes the listening socket; <see cref="AbortAll"/> cuts what is still open after the drain.
/// </summary>
internal sealed class SocketListener : IDisposable
{
    private readonly Socket _socket;        // the runtime's: bind, listen, options, or systemd's inherited one
    private readonly TcpSocket _listening;  // the same socket as the engine's loop waits on it and accepts from it
    private readonly ConnectionCounter _counter;
    private readonly Func<SocketConnection, ValueTask> _onConnection;
    private readonly Func<SocketConnection, ValueTask> _onOverloaded;
    private readonly Lock _activeLock = new();
    private SocketConnection? _active;   // connections accepted and not yet ended, linked through themselves (no node per connection)
    private int _activeCount;
    private TaskCompletionSource? _drained;   // set by WaitForConnectionsAsync; completed when the last connection ends
    private Task? _accepting;
    private long _lastAccept;
    private long _acceptPauses;
    private readonly Action<SocketError>? _onAcceptPaused;
    private static readonly Func<Socket, ValueTask<Socket>> RuntimeAccept = static listening => listening.AcceptAsync(CancellationToken.None);
    private Func<Socket, ValueTask<Socket>>? _accept;   // a test's fault seam; null: accept4(2) on the engine's loop, else the runtime's

    // Pause after an accept that failed for lack of descriptors or memory: doubling from 10 ms to 1 s.
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);
    private static readonly IPEndPoint UnknownPeer = new(IPAddress.IPv6None, 0);   // a family accept4 cannot give for TCP; kept total

    public SocketListener(IPEndPoint endPoint, int backlog, ConnectionCounter counter, Func<SocketConnection, ValueTask> onConnection, Func<SocketConnection, ValueTask> onOverloaded,
        Action<SocketError>? onAcceptPaused = null)
    {
        _onAcceptPaused = onAcceptPaused;
        _counter = counter;
        _onConnection = onConnection;
        _onOverloaded = onOverloaded;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _socket.DualMode = true;
        }

        AllowRebindDuringTimeWait(_socket);
        _socket.Bind(endPoint);
        _socket.Listen(backlog);
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _listening = Listening(_socket);
    }

    /// <summary>
    /// Accepts on a socket that is already bound and listening (one systemd passed by socket
    /// activation); the listener owns it from here on and accepts exactly as on one it bound.
    /// </summary>
    public SocketListener(Socket listening, ConnectionCounter counter, Func<SocketConnection, ValueTask> onConnection, Func<SocketConnection, ValueTask> onOverloaded,
        Action<SocketError>? onAcceptPaused = null)
    {
        ArgumentNullException.ThrowIfNull(listening);
        _onAcceptPaused = onAcceptPaused;
        _counter = counter;
        _onConnection = onConnection;
        _onOverloaded = onOverloaded;
        _socket = listening;
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _listening = Listening(_socket);
    }

    private static TcpSocket Listening(Socket socket)
    {
        if (EpollLoop.Enabled)
        {
            TcpSocket.PrepareListener(socket);   // accept4 answers EAGAIN when nothing is queued, and the loop waits for the edge
        }

        return TcpSocket.Adopt(socket);
    }

    /// <summary>The bound endpoint (the real port when 0 was configured).</summary>
    public IPEndPoint EndPoint { get; }

    public int ActiveConnections => Volatile.Read(ref _activeCount);

    /// <summary>
    /// Replaces how the loop takes the next client off the listening socket (by default
    /// <c>accept4(2)</c> on the engine's loop, elsewhere <see cref="Socket.AcceptAsync(CancellationToken)"/>).
    /// A fault seam for tests (an accept that fails with EMFILE cannot be provoked on a shared box
    /// without starving every other process of descriptors); set before <see cref="Start"/>.
    /// </summary>
    internal Func<Socket, ValueTask<Socket>> Accept
    {
        get => _accept ?? RuntimeAccept;
        set => _accept = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Accepts that failed for lack of descriptors or memory and were retried after a pause.</summary>
    public long AcceptPauses => Interlocked.Read(ref _acceptPauses);

    /// <summary>
    /// True while the accept loop runs. It ends only when the socket is closed or accept fails
    /// with an error it cannot ride out (running out of descriptors is not one: it pauses and
    /// retries); the systemd watchdog stops petting then, so a daemon that can no longer take
    /// connections gets restarted instead of looking healthy.
    /// </summary>
    public bool IsAccepting => _accepting is { IsCompleted: false };

    /// <summary>Heartbeat: <see cref="Environment.TickCount64"/> when the loop last started or returned from accept.</summary>
    public long LastAcceptTicks => Interlocked.Read(ref _lastAccept);

    public void Start()
    {
        Interlocked.Exchange(ref _lastAccept, Environment.TickCount64);

        // Connections start with an empty ExecutionContext, not the starter's: when the engine is
        // embedded, the host's AsyncLocal values (a request's logging scope, an Activity) would
        // otherwise ride on every client's awaits and parent everything they log or trace.
        using (ExecutionContext.SuppressFlow())
        {
            _accepting = AcceptLoopAsync();
        }
    }

    private async Task AcceptLoopAsync()
    {
        TimeSpan backoff = FirstBackoff;
        while (true)
        {
            TcpSocket client;
            IPEndPoint? peer;
            EpollLoop? home = null;
            try
            {
                if (_accept is null && EpollLoop.Enabled)
                {
                    // On the engine's loop: accept until the queue is empty, then wait for its edge
                    // there, so the connection starts on the loop's thread where its sockets will wait.
                    while (true)
                    {
                        int edges = _listening.Reader.Edges;
                        TcpSocket? next = _listening.TryAccept(out peer, out SocketError error);
                        if (next is not null)
                        {
                            // Each client to the next loop in turn (with its upstream sockets,
                            // which join the loop they are opened from), so every core serves.
                            home = EpollLoop.InTurn();
                            next.JoinLoop(home);
                            client = next;
                            break;
                        }

                        switch (OnAcceptError(error))
                        {
                            case AcceptErrorStep.Wait:
                                await _listening.WaitReadableAsync(edges).ConfigureAwait(false);
                                break;
                            case AcceptErrorStep.Next:
                                break;
                            default:
                                throw new SocketException((int)error);   // pause (out of descriptors or memory), or stop (closed): below
                        }
                    }
                }
                else
                {
                    Socket accepted = await (_accept ?? RuntimeAccept)(_socket).ConfigureAwait(false);
                    accepted.NoDelay = true;
                    peer = accepted.RemoteEndPoint as IPEndPoint;
                    client = TcpSocket.Adopt(accepted);
                    client.MarkAccepted();
                }
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue;   // the client gave up while queued in the backlog
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                // Out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM). The
                // listening socket is fine and new clients wait in its backlog; connections that
                // close free descriptors. Pause and try again, as nginx and Kestrel do: ending the
                // loop here would take the listener down for good at the first burst over the limit.
                Interlocked.Increment(ref _acceptPauses);
                _onAcceptPaused?.Invoke(e.SocketErrorCode);
                await Task.Delay(backoff).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                Interlocked.Exchange(ref _lastAccept, Environment.TickCount64);
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;     // the listener was closed: stop accepting
            }

            backoff = FirstBackoff;
            Interlocked.Exchange(ref _lastAccept, Environment.TickCount64);
            var connection = new SocketConnection(client, peer ?? UnknownPeer) { Admitted = _counter.TryAcquire(), Listener = this };

            // Registered before it runs: RunAsync goes synchronously as far as it can, and a client
            // that is already gone finishes (and removes itself) before RunAsync returns. Adding it
            // afterwards re-added finished connections for good: the 10-minute soak found ~7,000
            // of them held (heap 9 -> 54 MB).
            Track(connection);
            // A connection's code runs on its socket's loop and nowhere else, from its first step:
            // its writer is not made for two threads. Started here, on the listener's loop, its first
            // read could complete at once (its own loop's edge came first), and its first reply was
            // then sent at the end of the listener loop's batch; the client's answer to it came in on
            // the connection's loop before the listener's loop had let go of those bytes, and the
            // next reply went out behind them, sending them twice (a SOCKS5 client read its method
            // reply where its login's belonged: WarmUpTests, 1 run in 8).
            if (home is null || home == EpollLoop.Current || !home.Post(StartPosted, connection))
            {
                Start(connection);
            }
        }
    }

    private static readonly Action<object?> StartPosted = static state => Start((SocketConnection)state!);

    private static void Start(SocketConnection connection)
    {
#pragma warning disable CA2012 // started and left to run: its builder (PooledDetachedBuilder) recycles its box at the end, as nobody reads it
        _ = connection.Listener!.RunAsync(connection);
#pragma warning restore CA2012
    }

    // Runs synchronously until the connection's first wait (its first read: microseconds), then the
    // accept loop goes on. No Task.Yield: with inline socket completions that hop to the thread
    // pool was a context switch per connection on a loaded core.
    [AsyncMethodBuilder(typeof(PooledDetachedBuilder))]
    private async ValueTask RunAsync(SocketConnection connection)
    {
        bool handedOver = false;
        try
        {
            if (connection.Admitted)
            {
                await _onConnection(connection).ConfigureAwait(false);
            }
            else
            {
                await _onOverloaded(connection).ConfigureAwait(false);
            }

            if (connection.Tail is { } tail)
            {
                handedOver = true;
                tail.Start(static state =>
                {
                    var ended = (SocketConnection)state!;
                    _ = ended.Listener!.EndAsync(ended);
                }, connection);
            }
        }
        finally
        {
            if (!handedOver)
            {
                await EndAsync(connection).ConfigureAwait(false);
            }
        }
    }

    internal enum AcceptErrorStep
    {
        /// <summary>Nothing queued: wait for the listener's edge.</summary>
        Wait,

        /// <summary>The queued connection failed (reset, aborted, a network error it carried): take the next.</summary>
        Next,

        /// <summary>Out of descriptors or kernel memory: pause and retry.</summary>
        Pause,

        /// <summary>The listening socket is closed or no longer listening.</summary>
        Stop,
    }

    /// <summary>
    /// What the accept loop does after <c>accept4(2)</c> failed with <paramref name="error"/>. Linux
    /// passes errors pending on a queued connection to accept (ECONNABORTED, EPROTO, ENETDOWN,
    /// EHOSTUNREACH, ...) and asks the caller to treat them as EAGAIN and go on; only running out
    /// of descriptors or memory (pause, as nginx does) and a closed listener (stop) are not the
    /// connection's own.
    /// </summary>
    internal static AcceptErrorStep OnAcceptError(SocketError error) => error switch
    {
        SocketError.WouldBlock => AcceptErrorStep.Wait,
        SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable => AcceptErrorStep.Pause,
        SocketError.OperationAborted or SocketError.InvalidArgument or SocketError.NotSocket => AcceptErrorStep.Stop,
        _ => AcceptErrorStep.Next,
    };

    /// <summary>The connection's end, once: closed, its slot back, out of the drain count.</summary>
    private async Task EndAsync(SocketConnection connection)
    {
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            if (connection.Admitted)
            {
                _counter.Release();
            }

            if (Untrack(connection) && Volatile.Read(ref _drained) is { } drained)
            {
                drained.TrySetResult();
            }
        }
    }

    private void Track(SocketConnection connection)
    {
        lock (_activeLock)
        {
            connection.NextActive = _active;
            if (_active is not null)
            {
                _active.PreviousActive = connection;
            }

            _active = connection;
            _activeCount++;
        }
    }

    /// <summary>Unlinks an ended connection; true when it was the last one open.</summary>
    private bool Untrack(SocketConnection connection)
    {
        lock (_activeLock)
        {
            if (connection.PreviousActive is { } previous)
            {
                previous.NextActive = connection.NextActive;
            }
            else
            {
                _active = connection.NextActive;
            }

            if (connection.NextActive is { } next)
            {
                next.PreviousActive = connection.PreviousActive;
            }

            connection.PreviousActive = connection.NextActive = null;
            return --_activeCount == 0;
        }
    }

    /// <summary>
    /// A restarted daemon must be able to bind while its old connections sit in TIME_WAIT: Linux's
    /// SO_REUSEADDR, set directly. Not <see cref="SocketOptionName.ReuseAddress"/>: on Linux .NET
    /// maps it to SO_REUSEPORT as well, and then a second engine started on the same port binds
    /// beside the first and the kernel splits the clients between them, silently, instead of the
    /// second failing with "address in use".
    /// </summary>
    internal static void AllowRebindDuringTimeWait(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            const int SolSocket = 1, SoReuseAddr = 2;
            socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        }
    }

    /// <summary>Stops accepting; open connections continue.</summary>
    public async Task StopAcceptingAsync()
    {
        _listening.Close();   // wakes the accept loop's wait on the engine's loop
        if (_accepting is not null)
        {
            await _accepting.ConfigureAwait(false);
        }
    }

    /// <summary>Waits for open connections to end, up to <paramref name="timeout"/>; true when all ended.</summary>
    public async Task<bool> WaitForConnectionsAsync(TimeSpan timeout)
    {
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drained, drained);
        if (Volatile.Read(ref _activeCount) == 0)
        {
            drained.TrySetResult();   // the last one ended before the write above was seen
        }

        using var stopTimer = new CancellationTokenSource();
        Task first = await Task.WhenAny(drained.Task, Task.Delay(timeout, stopTimer.Token)).ConfigureAwait(false);
        await stopTimer.CancelAsync().ConfigureAwait(false);   // the delay's timer goes now, not at its end
        return first == drained.Task;
    }

    public void Dispose() => _listening.Close();

    /// <summary>Connections still running (accepted and not yet ended).</summary>
    public int OpenConnections => Volatile.Read(ref _activeCount);

    /// <summary>Closes every connection still open: pending reads and writes end.</summary>
    public void AbortAll()
    {
        // A snapshot first: an abort can end its connection inline, which unlinks it.
        var open = new List<SocketConnection>();
        lock (_activeLock)
        {
            for (SocketConnection? c = _active; c is not null; c = c.NextActive)
            {
                open.Add(c);
            }
        }

        foreach (SocketConnection connection in open)
        {
            connection.Abort();
        }
    }
}
