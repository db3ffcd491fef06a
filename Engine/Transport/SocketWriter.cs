using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Transport;

/// <summary>
/// A <see cref="PipeWriter"/> straight onto a client socket: what the handler writes collects in
/// one pooled block, and <see cref="FlushAsync"/> sends it with one <c>send(2)</c>. There is no
/// send loop and no pipe between the handler and the socket (HAProxy keeps one buffer per
/// direction; so do we): a flush completes when the kernel took the bytes, which is the
/// back-pressure a slow client exerts.
/// </summary>
/// <remarks>
/// The block goes back to <see cref="BlockMemoryPool"/> after every completed flush, so a
/// connection waiting for its next request or holding a tunnel keeps no send buffer. A client that
/// can no longer be written to is an answer, not an exception: the flush comes back
/// <see cref="FlushResult.IsCompleted"/>, as a pipe's does when its reader is gone.
/// </remarks>
internal sealed class SocketWriter : PipeWriter
{
    private readonly TcpSocket _socket;
    private BlockMemoryPool.Block? _owner;
    private byte[]? _buffer;
    private int _length;
    private bool _failed;      // a send failed: the client is gone
    private bool _completed;
    private bool _cancelPending;

    // Blocks filled before a flush that wrote more than one block holds (a response head and a
    // 32 KiB body read), sent in order ahead of the current one. Made on first use: most
    // connections never write that much between two flushes.
    private List<(BlockMemoryPool.Block Owner, int Length)>? _sealed;
    private long _sealedBytes;

    public SocketWriter(TcpSocket socket) => _socket = socket;

    /// <summary>The socket written to (the tunnel relay takes it over after the connection's last answer).</summary>
    public TcpSocket Socket => _socket;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _sealedBytes + _length;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(_length);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(_length);
    }

    public override void Advance(int bytes) => _length += bytes;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_failed)
        {
            Release();
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
        }

        if (_cancelPending)
        {
            _cancelPending = false;
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
        }

        if (_sealedBytes > 0)
        {
            return SendSealedAsync(cancellationToken);
        }

        if (_length == 0)
        {
            return default;
        }

        ValueTask<int> send;
        try
        {
            send = _socket.SendAsync(_buffer.AsMemory(0, _length), cancellationToken);
        }
        catch (ObjectDisposedException)
        {
            _failed = true;   // aborted under us (shutdown's cut)
            Release();
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
        }

        if (send.IsCompletedSuccessfully)
        {
            _ = send.Result;   // read even when done: the socket's operation is reused only once its result is taken
            Release();
            return default;
        }

        return AwaitSendAsync(send);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<FlushResult> AwaitSendAsync(ValueTask<int> send)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _failed = true;
        }
        finally
        {
            Release();
        }

        return new FlushResult(isCanceled: false, isCompleted: _failed);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<FlushResult> SendSealedAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach ((BlockMemoryPool.Block owner, int length) in _sealed!)
            {
                await _socket.SendAsync(owner.Memory[..length], cancellationToken).ConfigureAwait(false);
            }

            if (_length > 0)
            {
                await _socket.SendAsync(_buffer.AsMemory(0, _length), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _failed = true;
        }
        finally
        {
            Release();
        }

        return new FlushResult(isCanceled: false, isCompleted: _failed);
    }

    /// <summary>The next (or pending) flush reports <see cref="FlushResult.IsCanceled"/>; a send in progress finishes.</summary>
    public override void CancelPendingFlush() => _cancelPending = true;

    /// <summary>Sends what is still buffered and passes the end on as a FIN (half-close).</summary>
    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        _cancelPending = false;
        try
        {
            await FlushAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        ShutdownSend();
    }

    /// <summary>
    /// The synchronous form, for callers that cannot wait: what is buffered is dropped (every
    /// writer in the engine flushes before it completes), and the end is passed on as a FIN.
    /// </summary>
    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        Release();
        ShutdownSend();
    }

    /// <summary>Done without a shutdown of its own: the socket is closed next, and its close sends the FIN.</summary>
    public void CompleteAtClose()
    {
        _completed = true;
        Release();
    }

    private void ShutdownSend()
    {
        Release();
        if (_failed)
        {
            return;
        }

        _socket.Shutdown(SocketShutdown.Send);   // false when already closed or reset: the client sees the end either way
    }

    private void Reserve(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            Rent(Math.Max(needed, BlockMemoryPool.SmallBlock));
            return;
        }

        if (_buffer.Length - _length >= needed)
        {
            return;
        }

        // More written before a flush than the block holds (a head and a body read): the full
        // block waits for the flush, and writing goes on in a large one. No copy, no block bigger
        // than the pool's, one send per block.
        if (_length == 0)
        {
            _owner!.Dispose();
        }
        else
        {
            (_sealed ??= []).Add((_owner!, _length));
            _sealedBytes += _length;
        }

        Rent(Math.Max(needed, BlockMemoryPool.LargeBlock));
        _length = 0;
    }

    [MemberNotNull(nameof(_buffer))]
    private void Rent(int size)
    {
        BlockMemoryPool.Block block = BlockMemoryPool.Instance.RentBlock(size);
        _owner = block;
        _buffer = block.Array;
    }

    private void Release()
    {
        _length = 0;
        if (_sealed is { Count: > 0 })
        {
            foreach ((BlockMemoryPool.Block owner, _) in _sealed)
            {
                owner.Dispose();
            }

            _sealed.Clear();
            _sealedBytes = 0;
        }

        if (_owner is not null)
        {
            _owner.Dispose();
            _owner = null;
            _buffer = null;
        }
    }
}
