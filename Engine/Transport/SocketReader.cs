using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Transport;

/// <summary>
/// A <see cref="PipeReader"/> straight over a socket, for the upstream side of forwarded requests.
/// One instance lives as long as its client connection and is attached to whichever upstream
/// socket the current exchange uses, so a keep-alive request allocates nothing: the stream reader
/// it replaces (NetworkStream + StreamPipeReader, made per exchange) cost a reader, its options, a
/// cancellation source and its registrations, buffer segments and a state machine per request —
/// over half of the bytes allocated per forwarded GET.
/// </summary>
/// <remarks>
/// The buffered bytes are one contiguous block from <see cref="BlockMemoryPool"/>, returned as soon
/// as everything in it is consumed, so neither an idle client connection nor a pooled upstream
/// socket holds memory. A read that filled the whole free space asks for a 32 KiB block next time
/// (a body is streaming). Unconsumed bytes are compacted, or moved to a block twice the size when
/// the caller examined everything and needs more (a long head); the response parser's head limit
/// bounds that growth, and <see cref="MaxBufferSize"/> is the backstop.
/// </remarks>
internal sealed class SocketReader : PipeReader, IReceiveSink
{
    /// <summary>Beyond this, a caller that examined everything and still wants more gets a completed read.</summary>
    public const int MaxBufferSize = 1024 * 1024;

    private TcpSocket? _socket;
    private BlockMemoryPool.Block? _owner;
    private byte[]? _buffer;
    private int _start;      // first unconsumed byte
    private int _end;        // one past the last received byte
    private int _examined;   // one past the last examined byte
    private bool _cancelPending;
    private Flags _flags;
    private byte _receiveError;  // the errno a receive at the edge met (IReceiveSink), for the next read to report
    private readonly bool _client;

    /// <summary>A reader for the upstream side: attached to each exchange's socket in turn.</summary>
    public SocketReader()
    {
    }

    /// <summary>
    /// <paramref name="client"/>: the reader of a client connection, for its whole life. While
    /// nothing is buffered it waits for data with a zero-byte receive before it takes a block, so
    /// a connection idle between requests (or holding a tunnel) keeps no buffer; a broken
    /// connection surfaces as <see cref="ConnectionResetException"/>, as every client read expects.
    /// </summary>
    public SocketReader(TcpSocket socket, bool client)
    {
        _client = client;
        Attach(socket);
    }

    // Two states in one byte, and the receive error in a byte (Linux errnos are small): with a
    // field more the reader, one per client connection and per exchange, took one word more
    // (8 B per tunnel). Written only by the reader's owner, or by the loop while the owner waits;
    // _cancelPending, set from other threads, keeps a field of its own.
    [Flags]
    private enum Flags : byte
    {
        None = 0,
        Finished = 1,      // the socket delivered its FIN (or failed)
        PreferLarge = 2,   // the last read filled its block: a body is streaming
    }

    private bool Finished
    {
        get => (_flags & Flags.Finished) != 0;
        set => _flags = value ? _flags | Flags.Finished : _flags & ~Flags.Finished;
    }

    private bool PreferLarge
    {
        get => (_flags & Flags.PreferLarge) != 0;
        set => _flags = value ? _flags | Flags.PreferLarge : _flags & ~Flags.PreferLarge;
    }

    /// <summary>The socket read from (null when detached).</summary>
    public TcpSocket? Socket => _socket;

    /// <summary>Reads from <paramref name="socket"/> until <see cref="Complete"/>; the socket stays the caller's.</summary>
    public void Attach(TcpSocket socket)
    {
        _socket = socket;
        _start = _end = _examined = 0;
        _flags = Flags.None;
        _cancelPending = false;
        _receiveError = 0;
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_cancelPending || Finished || _end > _start)
        {
            result = TakeResult();
            return true;
        }

        result = default;
        return false;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_cancelPending || Finished || _end > _examined)
        {
            return new ValueTask<ReadResult>(TakeResult());
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        }

        if (_client)
        {
            return ReceiveFromClientAsync(cancellationToken);
        }

        if (_receiveError != 0)
        {
            return ValueTask.FromException<ReadResult>(TakeReceiveError());
        }

        Memory<byte> free = FreeSpace();
        if (free.IsEmpty)
        {
            // Everything examined and no room to grow: the peer is sending a head past any limit.
            Finished = true;
            return new ValueTask<ReadResult>(TakeResult());
        }

        ValueTask<int> receive = _socket!.ReceiveAsync(free, cancellationToken);
        if (receive.IsCompletedSuccessfully)
        {
            Received(receive.Result, free.Length);
            return new ValueTask<ReadResult>(TakeResult());
        }

        return AwaitReceiveAsync(receive, free.Length);
    }

    /// <summary>
    /// Nothing buffered: the zero-byte receive on the socket itself, for a caller that waits in its
    /// own frame (the connection's loop for the next request, the exchange for the answer) rather
    /// than frames down in a read; completed when something is buffered, ended or cancelled. The
    /// read that follows finds the data without a wait (the loop saw the edge: no syscall). A
    /// failure is the read's to report: it meets the same broken socket or cancelled token.
    /// </summary>
    public ValueTask<int> WaitForDataAsync(CancellationToken cancellationToken)
    {
        if (_buffer is not null || Finished || _cancelPending || _receiveError != 0 || _socket is null)
        {
            return new ValueTask<int>(0);
        }

        return _socket.WaitForDataAsync(this, cancellationToken);
    }

    Memory<byte> IReceiveSink.ReceiveBuffer() => _buffer is null && !Finished && !_cancelPending ? FreeSpace() : Memory<byte>.Empty;

    void IReceiveSink.Received(int count, int asked, int errno)
    {
        if (count >= 0)
        {
            Received(count, asked);
            return;
        }

        if (errno != Epoll.EAgain)
        {
            _receiveError = (byte)Math.Clamp(errno, 1, byte.MaxValue);
        }

        ReleaseIfEmpty();
    }

    /// <summary>The error a receive at the edge met, as the socket's own receive reports it; reported once.</summary>
    private SocketException TakeReceiveError()
    {
        var error = new SocketException((int)Epoll.ToSocketError(_receiveError));
        _receiveError = 0;
        return error;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ReadResult> AwaitReceiveAsync(ValueTask<int> receive, int asked)
    {
        int received;
        try
        {
            received = await receive.ConfigureAwait(false);
        }
        catch (SocketException) when (_cancelPending)
        {
            received = 0;
        }

        Received(received, asked);
        return TakeResult();
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ReadResult> ReceiveFromClientAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_receiveError != 0)
            {
                throw TakeReceiveError();
            }

            if (_buffer is null)
            {
                // Zero-byte wait first: the block is taken only once there is something to put in it
                // (on the engine's loop the loop receives into it at the edge).
                ValueTask<int> wait = _socket!.WaitForDataAsync(this, cancellationToken);
                _ = wait.IsCompletedSuccessfully ? wait.Result : await wait.ConfigureAwait(false);   // read either way: the operation is reused only then

                if (_receiveError != 0)
                {
                    throw TakeReceiveError();
                }

                if (_cancelPending || Finished || _end > _start)
                {
                    return TakeResult();
                }
            }

            Memory<byte> free = FreeSpace();
            if (free.IsEmpty)
            {
                Finished = true;   // everything examined and no room to grow: a head past any limit
                return TakeResult();
            }

            ValueTask<int> receive = _socket!.ReceiveAsync(free, cancellationToken);
            int received = receive.IsCompletedSuccessfully ? receive.Result : await receive.ConfigureAwait(false);
            Received(received, free.Length);
            return TakeResult();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            if (_cancelPending)
            {
                Received(0, 0);
                return TakeResult();
            }

            Finished = true;
            ReleaseIfEmpty();
            throw new ConnectionResetException(e.Message, e);
        }
    }

    private void Received(int received, int asked)
    {
        if (received == 0)
        {
            Finished = !_cancelPending;   // a cancellation's shutdown is not the peer's FIN
            ReleaseIfEmpty();
            return;
        }

        _end += received;
        PreferLarge = received == asked;
    }

    private ReadResult TakeResult()
    {
        bool cancelled = _cancelPending;
        _cancelPending = false;
        ReadOnlySequence<byte> buffered = _buffer is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);
        return new ReadResult(buffered, cancelled, Finished);
    }

    private Memory<byte> FreeSpace()
    {
        if (_buffer is null)
        {
            Rent(PreferLarge ? BlockMemoryPool.LargeBlock : BlockMemoryPool.SmallBlock);
            return _buffer.AsMemory();
        }

        if (_end == _buffer.Length)
        {
            int unconsumed = _end - _start;
            if (_start > 0 && unconsumed < _buffer.Length / 2)
            {
                // Room at the front: slide the unconsumed bytes down.
                _buffer.AsSpan(_start, unconsumed).CopyTo(_buffer);
            }
            else
            {
                if (_buffer.Length >= MaxBufferSize)
                {
                    return Memory<byte>.Empty;
                }

                BlockMemoryPool.Block previousOwner = _owner!;
                byte[] previous = _buffer;
                Rent(Math.Min(_buffer.Length * 2, MaxBufferSize));
                previous.AsSpan(_start, unconsumed).CopyTo(_buffer);
                previousOwner.Dispose();
            }

            _examined -= _start;
            _end = unconsumed;
            _start = 0;
        }

        return _buffer.AsMemory(_end);
    }

    private void Rent(int size)
    {
        BlockMemoryPool.Block block = BlockMemoryPool.Instance.RentBlock(size);
        _owner = block;
        _buffer = block.Array;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        if (_buffer is null || consumed.GetObject() is null)
        {
            return;   // the empty sequence of a read that had nothing buffered
        }

        // Array-backed sequences carry absolute indexes into the array.
        _start = consumed.GetInteger();
        _examined = Math.Max(examined.GetInteger(), _start);
        ReleaseIfEmpty();
    }

    private void ReleaseIfEmpty()
    {
        if (_start == _end && _owner is not null)
        {
            _owner.Dispose();
            _owner = null;
            _buffer = null;
            _start = _end = _examined = 0;
        }
    }

    /// <summary>
    /// Wakes a pending read with <see cref="ReadResult.IsCanceled"/>. The socket's receive side is
    /// shut down to do it, so the connection is not reusable afterwards — the only caller gives up
    /// on an exchange whose request was cut short.
    /// </summary>
    public override void CancelPendingRead()
    {
        _cancelPending = true;
        _socket?.Shutdown(SocketShutdown.Receive);   // false when already closed: the pending read ends on its own
    }

    /// <summary>Detaches from the socket and returns the buffer; the reader can be attached again.</summary>
    public override void Complete(Exception? exception = null)
    {
        _owner?.Dispose();
        _owner = null;
        _buffer = null;
        _socket = null;
        _start = _end = _examined = 0;
        _receiveError = 0;
    }
}
