using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Engine.Transport;

/// <summary>
/// One direction of a <see cref="TcpSocket"/>: at most one receive (reader) or one send or
/// connect (writer) at a time, tried at once while the direction may be ready, parked until the
/// loop's next edge when it is not.
/// </summary>
/// <remarks>
/// <para>
/// Readiness is a count of edges (<see cref="Signal"/>) and the count at which the direction was
/// last found drained: EAGAIN, or a receive that came back shorter than its buffer (the kernel gave
/// everything it had; anything later raises a new edge). While the two are equal an operation parks
/// without a syscall — the two <c>recvfrom</c> per keep-alive request the runtime's sockets spent
/// on EAGAIN. A FIN, reset or hang-up is sticky (<see cref="HungUp"/>): the receive that took the
/// last bytes may come back short while the FIN behind them raised its edge before.
/// </para>
/// <para>
/// The parked operation belongs to whoever moves <c>_state</c> off <see cref="Parked"/>: the loop
/// (an edge), a cancellation, or <see cref="Abort"/>. Continuations run inline on that thread.
/// </para>
/// </remarks>
internal sealed class EpollOperation : IValueTaskSource<int>
{
    private const int Idle = 0;
    private const int Parked = 1;
    private const int Claimed = 2;

    private readonly TcpSocket _owner;
    private readonly bool _isReader;
    private ManualResetValueTaskSourceCore<int> _core;
    private int _edges;
    private int _drainedAt = -1;
    private volatile bool _hungUp;
    private int _state;
    private Kind _kind;
    private Memory<byte> _buffer;
    private IReceiveSink? _sink;   // a zero-byte wait whose bytes the loop receives at the edge
    private int _done;             // a send's progress; then what an edge completed, for Deliver: the result, or -errno
    private CancellationTokenRegistration _registration;

    public EpollOperation(TcpSocket owner, bool isReader)
    {
        _owner = owner;
        _isReader = isReader;
    }

    private enum Kind : byte
    {
        Receive,
        Send,
        Connect,
        Readable,
    }

    /// <summary>The peer's FIN (reader), a reset or a hang-up was seen.</summary>
    public bool HungUp => _hungUp;

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken token)
    {
        System.Diagnostics.Debug.Assert(_isReader);
        EnsureConsumed();
        _kind = Kind.Receive;
        _buffer = buffer;
        _sink = null;
        return Start(token);
    }

    /// <summary>
    /// A zero-byte wait whose bytes the loop receives into <paramref name="sink"/> when it finds the
    /// edge, among every other ready socket's receives, before it runs any continuation
    /// (<see cref="EpollLoop"/>): a batch of requests is read, then answered, as HAProxy does, so
    /// the sends of one batch go out back to back and the peer behind wakes once for many. When the
    /// wait completes at once (an edge already seen) nothing is received: the caller reads next.
    /// Always completes with 0; what the receive met is the sink's.
    /// </summary>
    public ValueTask<int> WaitForDataAsync(IReceiveSink sink, CancellationToken token)
    {
        System.Diagnostics.Debug.Assert(_isReader);
        EnsureConsumed();
        _kind = Kind.Receive;
        _buffer = default;
        _sink = sink;
        return Start(token);
    }

    /// <summary>
    /// Ends at the next edge after <paramref name="drainedAt"/> (a listening socket: a connection
    /// was queued), with no syscall of its own. <paramref name="drainedAt"/> is the edge count read
    /// before the caller found the socket empty, so an edge in between is not lost.
    /// </summary>
    public ValueTask<int> WaitReadableAsync(int drainedAt)
    {
        System.Diagnostics.Debug.Assert(_isReader);
        EnsureConsumed();
        _kind = Kind.Readable;
        _drainedAt = drainedAt;
        return Start(default);
    }

    /// <summary>Edges seen so far (read before a check whose answer <see cref="WaitReadableAsync"/> then relies on).</summary>
    public int Edges => Volatile.Read(ref _edges);

    /// <summary>Sends all of <paramref name="data"/>, of which the first <paramref name="sent"/> bytes already went out; the result is its length.</summary>
    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> data, int sent, CancellationToken token)
    {
        System.Diagnostics.Debug.Assert(!_isReader);
        EnsureConsumed();
        _kind = Kind.Send;
        _buffer = MemoryMarshal.AsMemory(data);
        _done = sent;
        return Start(token);
    }

    public ValueTask<int> ConnectAsync(ReadOnlySpan<byte> address, CancellationToken token)
    {
        EnsureConsumed();
        if (token.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(token);
        }

        // A socket we connect has nothing to read before the loop says so: its registration (at the
        // connect's wait, or at the first read's) reports bytes that came earlier as an edge. Marked
        // drained, its first zero-byte wait (a tunnel's target side) parks without a peek.
        _owner.Reader.MarkDrainedIfNew();
        int before = Volatile.Read(ref _edges);
        int errno = Epoll.StartConnect(_owner.Handle, address, setNonBlocking: _owner.IsAdopted);
        if (errno == 0)
        {
            _owner.OnConnected();
            return new ValueTask<int>(0);
        }

        if (errno != Epoll.EInProgress)
        {
            return ValueTask.FromException<int>(new SocketException((int)Epoll.ToSocketError(errno)));
        }

        _kind = Kind.Connect;
        _drainedAt = before;   // not writable until the handshake's edge
        return Start(token);
    }

    /// <summary>
    /// One operation at a time, and the last one's result taken first (a <see cref="ValueTask{TResult}"/>
    /// is consumed exactly once; <see cref="IValueTaskSource{TResult}.GetResult"/> is what makes this
    /// object ready again). Starting over a completed operation whose result nobody read would park
    /// on a finished source, and the loop's next completion would throw on the loop's thread and end
    /// the process; refused here instead, on the caller's thread, where the fault is.
    /// </summary>
    private void EnsureConsumed()
    {
        if (Volatile.Read(ref _state) != Idle)
        {
            throw new InvalidOperationException("A socket operation started before the previous one on the same direction was consumed (its ValueTask's result was never read).");
        }
    }

    internal void MarkDrainedIfNew()
    {
        if (_drainedAt == -1)
        {
            _drainedAt = 0;
        }
    }

    private ValueTask<int> Start(CancellationToken token)
    {
        if (_owner.IsClosed)
        {
            _buffer = default;
            ObjectDisposedException.ThrowIf(true, this);
        }

        if (token.IsCancellationRequested)
        {
            _buffer = default;
            return ValueTask.FromCanceled<int>(token);
        }

        short version = _core.Version;
        while (true)
        {
            if (TryComplete(atEdge: false, out int result, out int errno))
            {
                _buffer = default;
                _sink = null;
                return errno == 0 ? new ValueTask<int>(result) : ValueTask.FromException<int>(Error(errno));
            }

            _owner.Register();
            int drained = _drainedAt;
            Interlocked.Exchange(ref _state, Parked);   // a full fence: the edge count is read after this store, as Signal reads the state after its increment
            if (Volatile.Read(ref _edges) == drained && !_hungUp && !_owner.IsClosed)
            {
                break;   // any edge from here on finds the operation parked
            }

            if (Interlocked.CompareExchange(ref _state, Idle, Parked) != Parked)
            {
                return new ValueTask<int>(this, version);   // the loop (or a cancel) took it already
            }
        }

        if (token.CanBeCanceled)
        {
            // After parking: a completion that wins the race leaves a registration GetResult disposes.
            // The callback is handed the token, so the operation keeps no field for it: every field
            // here is paid by every socket (three or four per tunnel).
            _registration = token.UnsafeRegister(static (state, cancelled) => ((EpollOperation)state!).Cancel(cancelled), this);
        }

        return new ValueTask<int>(this, version);
    }

    /// <summary>An edge for this direction (the loop's thread; one loop per socket, so never two at once).</summary>
    public void Signal(bool hangUp)
    {
        if (hangUp)
        {
            _hungUp = true;
        }

        Interlocked.Increment(ref _edges);
        if (Volatile.Read(ref _state) == Parked && Interlocked.CompareExchange(ref _state, Claimed, Parked) == Parked)
        {
            Resume();
        }
    }

    private void Resume()
    {
        while (true)
        {
            if (TryComplete(atEdge: true, out int result, out int errno))
            {
                _buffer = default;
                _sink = null;
                _done = errno == 0 ? result : -errno;   // results are never negative
                if (!EpollLoop.DeliverAfterBatch(this))
                {
                    Deliver();
                }

                return;
            }

            // Woken for nothing (the edge was for bytes an earlier call already took): park again.
            int drained = _drainedAt;
            Interlocked.Exchange(ref _state, Parked);   // a full fence: the edge count is read after this store, as Signal reads the state after its increment
            if (Volatile.Read(ref _edges) == drained && !_hungUp && !_owner.IsClosed)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _state, Claimed, Parked) != Parked)
            {
                return;
            }
        }
    }

    /// <summary>Completes an operation <see cref="Resume"/> finished: its continuation runs now, on this thread.</summary>
    internal void Deliver()
    {
        if (_done >= 0)
        {
            _core.SetResult(_done);
        }
        else
        {
            _core.SetException(Error(-_done));
        }
    }

    /// <summary>
    /// True when the operation finished (<paramref name="errno"/> 0 or its error); false when it must
    /// wait for an edge. <paramref name="atEdge"/>: the loop found an edge for it (a sink's receive is made then).
    /// </summary>
    private bool TryComplete(bool atEdge, out int result, out int errno)
    {
        result = 0;
        errno = 0;
        if (_owner.IsClosed)
        {
            errno = 9;   // EBADF: OperationAborted, as the runtime ends an operation on a closed socket
            return true;
        }

        int edges = Volatile.Read(ref _edges);
        if (edges == _drainedAt && !_hungUp)
        {
            return false;
        }

        try
        {
            switch (_kind)
            {
                case Kind.Receive:
                    if (atEdge && _sink is { } sink && _buffer.IsEmpty)
                    {
                        if (ReceiveInto(sink, edges, out errno))
                        {
                            return true;
                        }

                        break;   // EAGAIN: park again
                    }

                    if (_buffer.IsEmpty && (_drainedAt != -1 || _hungUp))
                    {
                        // An edge (or a FIN) since the socket was last drained: the zero-byte wait is
                        // over without asking the kernel. Its peek was the third recvfrom per
                        // keep-alive request; an edge for bytes already taken only costs the next read
                        // a wait with its buffer in hand. A socket never drained yet is peeked, so a
                        // silent one (a tunnel's target) waits without a buffer.
                        return true;
                    }

                    nint received = _buffer.IsEmpty ? Epoll.Peek(_owner.Handle, out errno) : Epoll.Receive(_owner.Handle, _buffer.Span, out errno);
                    if (received >= 0)
                    {
                        if (_buffer.IsEmpty)
                        {
                            return true;   // a byte or the FIN is there: the zero-byte wait is over
                        }

                        if (received < _buffer.Length && received > 0)
                        {
                            _drainedAt = edges;
                        }

                        result = (int)received;
                        return true;
                    }

                    break;

                case Kind.Send:
                    while (_done < _buffer.Length)
                    {
                        nint sent = Epoll.Send(_owner.Handle, _buffer.Span[_done..], out errno);
                        if (sent < 0)
                        {
                            break;
                        }

                        _done += (int)sent;
                    }

                    if (_done == _buffer.Length)
                    {
                        errno = 0;
                        result = _done;
                        return true;
                    }

                    break;

                case Kind.Readable:
                    return true;   // an edge since the caller found it empty

                default:
                    // Writable without an error or hang-up: the handshake completed, no need to ask
                    // (getsockopt(SO_ERROR) was one syscall per tunnel). A failed connect raises
                    // EPOLLERR, and only then is its errno read.
                    errno = _hungUp ? Epoll.ConnectResult(_owner.Handle) : 0;
                    if (_hungUp && errno == 0)
                    {
                        errno = 111;   // hung up without a pending error: the peer refused or reset
                    }

                    if (errno == 0)
                    {
                        _owner.OnConnected();
                    }

                    return true;
            }
        }
        catch (ObjectDisposedException)
        {
            errno = 9;
            return true;
        }

        if (errno != Epoll.EAgain)
        {
            return true;
        }

        // Nothing now: wait for the next edge. A sticky hang-up the kernel just contradicted is
        // dropped, or the wait would spin; a real one raises another edge.
        errno = 0;
        _drainedAt = edges;
        _hungUp = false;
        return false;
    }

    /// <summary>
    /// A sink's receive at the edge: true when the wait is over (bytes, the FIN, an error the sink
    /// keeps, or no room to receive into), false with <paramref name="errno"/> EAGAIN when nothing was there.
    /// </summary>
    private bool ReceiveInto(IReceiveSink sink, int edges, out int errno)
    {
        errno = 0;
        Memory<byte> room = sink.ReceiveBuffer();
        if (room.IsEmpty)
        {
            return true;
        }

        nint received;
        int error;
        try
        {
            received = Epoll.Receive(_owner.Handle, room.Span, out error);
        }
        catch (ObjectDisposedException)
        {
            received = -1;
            error = 9;   // EBADF: closed under us, reported as OperationAborted at the next read
        }

        if (received < 0 && error == Epoll.EAgain)
        {
            sink.Received(-1, room.Length, error);
            errno = error;
            return false;
        }

        if (received > 0 && received < room.Length)
        {
            _drainedAt = edges;
        }

        sink.Received((int)received, room.Length, received < 0 ? error : 0);
        return true;
    }

    private static SocketException Error(int errno) => new((int)Epoll.ToSocketError(errno));

    private void Cancel(CancellationToken token) => End(new OperationCanceledException(token));

    /// <summary>
    /// The socket is closing: a parked operation ends with <see cref="SocketError.OperationAborted"/>.
    /// </summary>
    public void Abort() => End(new SocketException((int)SocketError.OperationAborted));

    // A parked operation ends with an error, on its socket's loop: a deadline fires on a timer
    // thread, and a close can come from another thread (the shutdown's cut, an idle tunnel swept by
    // a timer); the waiter goes on where the rest of its connection runs, not on that thread.
    private void End(Exception error)
    {
        if (Interlocked.CompareExchange(ref _state, Claimed, Parked) == Parked)
        {
            _buffer = default;
            _sink = null;
            if (_owner.Loop is { } loop && loop != EpollLoop.Current && loop.Post(EndPosted, (this, error)))
            {
                return;
            }

            _core.SetException(error);
        }
    }

    private static readonly Action<object?> EndPosted = static state =>
    {
        (EpollOperation operation, Exception error) = ((EpollOperation, Exception))state!;
        operation._core.SetException(error);
    };

    int IValueTaskSource<int>.GetResult(short token)
    {
        _registration.Dispose();   // waits for a cancellation callback that is running right now
        _registration = default;
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Volatile.Write(ref _state, Idle);
        }
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
