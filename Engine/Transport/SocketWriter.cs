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
internal sealed class SocketWriter : PipeWriter, IDeferredSend, IResetOnClose
{
    private readonly TcpSocket _socket;
    private BlockMemoryPool.Block? _owner;
    private byte[]? _buffer;
    private int _length;
    private bool _failed;      // a send failed: the client is gone
    private bool _reset;       // the stream was cut: no FIN, the close resets (ResetOnClose)
    private volatile bool _resetIfCut;   // a close-delimited body is going out (IResetOnClose.ResetIfCut)
    private bool _completed;
    private bool _cancelPending;

    // A flush on an event loop hands its bytes over for the end of the loop's batch (EpollLoop's
    // third phase), so the batch's answers go out back to back: the caller sees the flush done.
    // Later writes append; the next flush in the same batch rides along. A send the kernel cannot
    // take whole then keeps its block in _inFlight, and the next flush, a completion or a tunnel's
    // first raw send waits for it, so bytes never overtake each other.
    private bool _deferred;
    private Task? _inFlight;

    // Blocks filled before a flush that wrote more than one block holds (a response head and a
    // 32 KiB body read), sent in order ahead of the current one. Made on first use: most
    // connections never write that much between two flushes.
    private List<(BlockMemoryPool.Block Owner, int Length)>? _sealed;

    public SocketWriter(TcpSocket socket) => _socket = socket;

    /// <summary>The socket written to (the tunnel relay takes it over after the connection's last answer).</summary>
    public TcpSocket Socket => _socket;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes
    {
        get
        {
            long bytes = _length;
            if (_sealed is not null)
            {
                foreach ((_, int length) in _sealed)
                {
                    bytes += length;
                }
            }

            return bytes;
        }
    }

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

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => Flush(mayDefer: true, cancellationToken);

    private ValueTask<FlushResult> Flush(bool mayDefer, CancellationToken cancellationToken)
    {
        if (_inFlight is { } inFlight)
        {
            if (!inFlight.IsCompleted)
            {
                return FlushAfterAsync(inFlight, mayDefer, cancellationToken);
            }

            _inFlight = null;
        }

        if (_failed)
        {
            _deferred = false;
            Release();
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
        }

        if (_cancelPending)
        {
            _cancelPending = false;
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
        }

        if (_sealed is { Count: > 0 })
        {
            _deferred = false;   // the held bytes lead the first sealed block
            return SendSealedAsync(cancellationToken);
        }

        if (_length == 0)
        {
            return default;
        }

        if (_deferred)
        {
            if (mayDefer)
            {
                return default;   // already held for the batch's end: these bytes go with them
            }

            _deferred = false;
        }
        else if (mayDefer && EpollLoop.DeferSend(this))
        {
            _deferred = true;
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

    private async ValueTask<FlushResult> FlushAfterAsync(Task inFlight, bool mayDefer, CancellationToken cancellationToken)
    {
        await inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
        _inFlight = null;
        return await Flush(mayDefer, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The loop's third phase: sends what flushes of this batch held.</summary>
    void IDeferredSend.SendDeferred()
    {
        if (!_deferred)
        {
            return;   // sent meanwhile (a completion, a large write, a tunnel's first send)
        }

        _deferred = false;
        if (_failed || _length == 0 || _buffer is null)
        {
            return;
        }

        ValueTask<int> send;
        try
        {
            send = _socket.SendAsync(_buffer.AsMemory(0, _length));
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            // Closed under us, or (a fault) a send of someone else's still unread on the socket:
            // either way the client is gone for this writer, and nothing may throw on the loop.
            _failed = true;
            Release();
            return;
        }

        if (send.IsCompletedSuccessfully)
        {
            _ = send.Result;
            Release();
            return;
        }

        // The kernel could not take it all (or the send failed): the block goes with the send, and
        // what is written from here on goes to a new one, behind it.
        BlockMemoryPool.Block owner = _owner!;
        _owner = null;
        _buffer = null;
        _length = 0;
        _inFlight = FinishSendAsync(send, owner);
    }

    private async Task FinishSendAsync(ValueTask<int> send, BlockMemoryPool.Block owner)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            _failed = true;
        }
        finally
        {
            owner.Dispose();
        }
    }

    /// <summary>
    /// Sends now what a flush held for the batch's end, before a send on the raw socket (a tunnel's
    /// first bytes to the client after its 200): the send still running when the kernel could not
    /// take it whole, else null.
    /// </summary>
    public Task? SendHeldNow()
    {
        if (_deferred)
        {
            ((IDeferredSend)this).SendDeferred();
        }

        return _inFlight is { IsCompleted: false } inFlight ? inFlight : null;
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
            await Flush(mayDefer: false, default).ConfigureAwait(false);   // the FIN goes after every byte flushed
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
        if (SendHeldNow() is { } inFlight)
        {
            _ = ShutdownAfterAsync(inFlight);   // the FIN after the bytes still being sent
            return;
        }

        Release();
        ShutdownSend();
    }

    private async Task ShutdownAfterAsync(Task inFlight)
    {
        await inFlight.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        Release();
        ShutdownSend();
    }

    /// <summary>Done without a shutdown of its own: the socket is closed next, and its close sends the FIN.</summary>
    public void CompleteAtClose()
    {
        _completed = true;
        _ = SendHeldNow();   // the tunnel ends before it sent anything: what was held (its 200) still goes; a send still running is cut by the close
        Release();
    }

    /// <summary>
    /// The stream was cut: completing sends what was flushed but no FIN, and the socket's close
    /// resets the connection (dropping what the kernel has not sent yet).
    /// </summary>
    public void ResetOnClose()
    {
        _reset = true;
        _socket.ResetOnClose();
    }

    /// <summary>
    /// Bytes flushed but not yet taken by the kernel, held for the loop's batch or kept from a batch's
    /// send the kernel could not take whole: a close now would cut them. (A flush's own waiting send
    /// is not counted: it ends with the abort.) Read from another thread by the shutdown's cut: a hint.
    /// </summary>
    internal bool HoldsUnsentBytes => _deferred || _inFlight is { IsCompleted: false };

    /// <inheritdoc/>
    public bool ResetIfCut
    {
        get => _resetIfCut;
        set => _resetIfCut = value;
    }

    private void ShutdownSend()
    {
        Release();
        if (_resetIfCut)
        {
            ResetOnClose();   // completed while a close-delimited body was still going out: it was cut
        }

        if (_failed || _reset)
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
        }

        if (_owner is not null)
        {
            _owner.Dispose();
            _owner = null;
            _buffer = null;
        }
    }
}
