using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Engine.Transport;

/// <summary>
/// One send, receive or connect on a runtime socket, where the engine's own loop does not run
/// (<see cref="EpollLoop.Enabled"/> false: other platforms, or <c>ENGINE_RUNTIME_SOCKETS=1</c>):
/// the way a <see cref="TcpSocket"/> moves bytes there, on pooled event args as described here.
/// </summary>
/// <remarks>
/// <para>
/// Why not <c>Socket.ReceiveAsync(Memory)</c>: the runtime caches an event-args object (296 B, plus
/// its completion delegates) per socket and direction for the socket's whole life, so every
/// connection allocated four of them (client and target, receive and send) and every held tunnel
/// kept three while it idled — a sixth of the bytes allocated per tunnel. Here an operation is
/// taken for the one call and goes back to the pool when its result is read, so a send that
/// completes at once (most do) holds nothing afterwards, and the objects are made once per
/// process instead of once per connection. The event args also skip capturing the execution
/// context: nothing on the data path reads an async local.
/// </para>
/// <para>
/// Cancellation: the runtime withdraws a cancelled operation and leaves the socket usable; an
/// event-args operation cannot be withdrawn, so a cancelled token shuts the socket down in the
/// operation's direction (receive, or send) and the call ends in
/// <see cref="OperationCanceledException"/>. Every caller that cancels a socket operation is
/// giving up on that connection (a head or idle deadline, shutdown's drain, an aborted exchange),
/// and answers on the other direction at most: a 408 still goes out after its read was cut.
/// </para>
/// </remarks>
internal sealed class SocketOperation : SocketAsyncEventArgs, IValueTaskSource<int>
{
    // Free operations only: one in flight belongs to its caller. Enough for a busy process's
    // concurrent sends and reads; beyond it, completed operations are left to the GC.
    private const int MaxPooled = 4096;
    private static readonly BoundedPool<SocketOperation> s_pool = new(MaxPooled);

    private ManualResetValueTaskSourceCore<int> _core;   // continuations run inline, where the socket completed
    private CancellationTokenRegistration _registration;
    private CancellationToken _token;
    private Socket? _socket;
    private Direction _cancelDirection;

    private SocketOperation()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>Receives into <paramref name="buffer"/> (empty: waits until data is there, without a buffer); 0 is the peer's FIN.</summary>
    public static ValueTask<int> ReceiveAsync(Socket socket, Memory<byte> buffer, CancellationToken token = default)
    {
        if (token.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(token);
        }

        SocketOperation operation = Rent();
        operation.SetBuffer(buffer);
        return operation.Start(socket, Direction.Receive, token);
    }

    /// <summary>Sends all of <paramref name="data"/> (a stream socket's send completes only when the kernel took every byte).</summary>
    public static ValueTask<int> SendAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken token = default)
    {
        if (token.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(token);
        }

        SocketOperation operation = Rent();
        operation.SetBuffer(MemoryMarshal.AsMemory(data));
        return operation.Start(socket, Direction.Send, token);
    }

    /// <summary>Connects <paramref name="socket"/>; a cancelled token aborts the attempt (the socket is then closed).</summary>
    public static ValueTask<int> ConnectAsync(Socket socket, EndPoint endPoint, CancellationToken token = default)
    {
        if (token.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(token);
        }

        SocketOperation operation = Rent();
        operation.RemoteEndPoint = endPoint;
        return operation.Start(socket, Direction.Connect, token);
    }

    private static SocketOperation Rent()
    {
        return s_pool.TryTake(out SocketOperation? operation) ? operation : new SocketOperation();
    }

    private void Return()
    {
        SetBuffer(Memory<byte>.Empty);   // drop the caller's block
        RemoteEndPoint = null;
        _socket = null;
        _token = default;
        _core.Reset();
        s_pool.TryKeep(this);   // full: left to the GC
    }

    private ValueTask<int> Start(Socket socket, Direction direction, CancellationToken token)
    {
        bool pending;
        try
        {
            pending = direction switch
            {
                Direction.Receive => socket.ReceiveAsync(this),
                Direction.Send => socket.SendAsync(this),
                _ => socket.ConnectAsync(this),
            };
        }
        catch
        {
            Return();
            throw;
        }

        return pending ? Wait(socket, direction, token) : CompletedAtOnce();
    }

    private ValueTask<int> CompletedAtOnce()
    {
        SocketError error = SocketError;
        int transferred = BytesTransferred;
        Return();
        return error == SocketError.Success
            ? new ValueTask<int>(transferred)
            : ValueTask.FromException<int>(new SocketException((int)error));
    }

    private ValueTask<int> Wait(Socket socket, Direction direction, CancellationToken token)
    {
        short version = _core.Version;
        if (token.CanBeCanceled)
        {
            // Registered after the start: the operation may already have completed on the socket's
            // thread, and then a late cancellation only shuts down a connection its owner is
            // giving up anyway. GetResult disposes the registration before the object is reused.
            _socket = socket;
            _cancelDirection = direction;
            _token = token;
            _registration = token.UnsafeRegister(static state => ((SocketOperation)state!).Cancel(), this);
        }

        return new ValueTask<int>(this, version);
    }

    private void Cancel()
    {
        try
        {
            if (_cancelDirection == Direction.Connect)
            {
                Socket.CancelConnectAsync(this);
            }
            else
            {
                _socket?.Shutdown(_cancelDirection == Direction.Receive ? SocketShutdown.Receive : SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed: the operation ends on its own.
        }
    }

    private enum Direction : byte
    {
        Receive,
        Send,
        Connect,
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (SocketError == SocketError.Success)
        {
            _core.SetResult(BytesTransferred);
        }
        else
        {
            _core.SetException(new SocketException((int)SocketError));
        }
    }

    int IValueTaskSource<int>.GetResult(short token)
    {
        _registration.Dispose();   // waits for a cancellation callback that is running right now
        _registration = default;
        CancellationToken cancellation = _token;
        try
        {
            int transferred = _core.GetResult(token);
            if (transferred == 0 && cancellation.IsCancellationRequested && _cancelDirection != Direction.Connect)
            {
                throw new OperationCanceledException(cancellation);   // the shutdown's end, not the peer's FIN
            }

            return transferred;
        }
        catch (SocketException) when (cancellation.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellation);
        }
        finally
        {
            Return();
        }
    }

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
