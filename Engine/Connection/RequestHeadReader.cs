using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Engine.Http;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>
/// The client's side of reading: the next request head through <see cref="HttpRequestParser"/>
/// under the connection's deadlines, the SOCKS5 sniff of an auto listener, and the deadline the
/// SOCKS5 handshake runs under. One per client connection.
/// </summary>
internal sealed class RequestHeadReader : IDisposable
{
    private PipeReader _input = null!;
    private HttpRequestParser _parser = new();
    private readonly Deadline _deadline = new(TimeProvider.System);
    private CancellationToken _idle;   // the idle phase's, armed by WaitForRequestAsync
    private bool _awaitingHead;

    /// <summary>Reads from <paramref name="input"/> from now on: a pooled connection's next client. Nothing of the previous one is kept.</summary>
    public void Attach(PipeReader input, HttpParserLimits limits)
    {
        _input = input;
        _awaitingHead = false;
        if (ReferenceEquals(_parser.Limits, limits))
        {
            _parser.Reset();
        }
        else
        {
            _parser = new HttpRequestParser(limits);   // a reload changed them
        }

        _deadline.Clear();
    }

    /// <summary>Lets go of the client's reader (a pooled connection pins nothing of its last client).</summary>
    public void Detach()
    {
        _input = null!;
        _idle = default;
    }

    /// <summary>Why the last head was rejected.</summary>
    public RejectReason RejectReason => _parser.RejectReason;

    /// <summary>
    /// Starts the wait for the next request under the keep-alive idle timeout and returns the wait
    /// itself (the client socket's zero-byte receive, or a completed one when bytes are already
    /// buffered), for the connection's loop to await in its own frame; <see cref="ReadAsync"/>
    /// follows either way and reports what the wait met. Awaited three frames down, in the socket
    /// reader under this reader under the loop, every request's wake-up resumed all three: with a
    /// pooled box, a context capture and two type checks each.
    /// </summary>
    public ValueTask<int> WaitForRequestAsync(ConnectionLimits limits)
    {
        _idle = _deadline.Arm(limits.IdleTimeout);
        Volatile.Write(ref _awaitingHead, true);
        return _input is SocketReader socket ? socket.WaitForDataAsync(_idle) : new ValueTask<int>(0);
    }

    /// <summary>
    /// Reads one request head into <paramref name="head"/>, after <see cref="WaitForRequestAsync"/>.
    /// Until its first byte the keep-alive idle timeout applies; from then on one RequestHeadTimeout
    /// covers the whole head and is not extended by further reads, so a client trickling a byte at
    /// a time (slowloris) is cut off on time.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<HeadOutcome> ReadAsync(RequestHead head, ConnectionLimits limits, CancellationToken draining)
    {
        CancellationToken deadline = _idle;
        bool started = false;
        if (draining.IsCancellationRequested)
        {
            Volatile.Write(ref _awaitingHead, false);
            return HeadOutcome.Draining;
        }

        try
        {
            while (true)
            {
                ValueTask<ReadResult> pending = _input.ReadAsync(deadline);
                ReadResult read = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                if (read.IsCanceled)
                {
                    _input.AdvanceTo(buffer.Start);
                    return HeadOutcome.Draining;
                }

                if (!started && !buffer.IsEmpty)
                {
                    started = true;
                    deadline = _deadline.Arm(limits.RequestHeadTimeout);
                }

                ParseStatus status = Parse(buffer, head, out SequencePosition consumed);
                if (status == ParseStatus.Complete)
                {
                    _input.AdvanceTo(consumed);
                    _deadline.Clear();
                    return HeadOutcome.Complete;
                }

                if (status == ParseStatus.Rejected)
                {
                    _input.AdvanceTo(consumed);
                    return HeadOutcome.Rejected;
                }

                _input.AdvanceTo(consumed, buffer.End);
                if (read.IsCompleted)
                {
                    return buffer.Slice(consumed).IsEmpty && !_parser.InProgress ? HeadOutcome.Closed : HeadOutcome.Truncated;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return started ? HeadOutcome.HeadTimeout : HeadOutcome.IdleTimeout;
        }
        finally
        {
            Volatile.Write(ref _awaitingHead, false);
        }
    }

    /// <summary>Shutdown began: a connection idle between requests is woken to close; one in a request is left to finish.</summary>
    public void WakeIfIdle()
    {
        if (Volatile.Read(ref _awaitingHead))
        {
            _input.CancelPendingRead();
        }
    }

    /// <summary>Peeks at the first byte without consuming it (within <paramref name="timeout"/>); a silent client is served as HTTP, whose reader then times it out.</summary>
    public async ValueTask<bool> PeekIsSocksAsync(TimeSpan timeout)
    {
        CancellationToken deadline = _deadline.Arm(timeout);
        try
        {
            ReadResult read = await _input.ReadAsync(deadline).ConfigureAwait(false);
            bool socks = !read.Buffer.IsEmpty && read.Buffer.FirstSpan[0] == 0x05;
            _input.AdvanceTo(read.Buffer.Start);
            return socks;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            _deadline.Clear();
        }
    }

    /// <summary>Reads and discards a refused request's body of <paramref name="length"/> bytes; false when the client did not send it in time.</summary>
    public async ValueTask<bool> SkipBodyAsync(long length, TimeSpan timeout)
    {
        CancellationToken deadline = _deadline.Arm(timeout);
        try
        {
            while (length > 0)
            {
                ReadResult read = await _input.ReadAsync(deadline).ConfigureAwait(false);
                long take = Math.Min(length, read.Buffer.Length);
                _input.AdvanceTo(read.Buffer.GetPosition(take));
                length -= take;
                if (length > 0 && read.IsCompleted)
                {
                    return false;
                }
            }

            _deadline.Clear();
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Lingering close (RFC 9112 §9.6): after the answer went out and sending stopped, discard what
    /// the client still sends until it closes or <paramref name="timeout"/> passes, so unread data
    /// does not turn the close into a reset that destroys the answer in the client's buffer.
    /// </summary>
    public async ValueTask LingerAsync(TimeSpan timeout)
    {
        CancellationToken deadline = _deadline.Arm(timeout);
        try
        {
            while (true)
            {
                ReadResult read = await _input.ReadAsync(deadline).ConfigureAwait(false);
                _input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted || read.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The linger period is over or the client reset: close either way.
        }
    }

    /// <summary>Arms the deadline a SOCKS5 handshake reads under.</summary>
    public CancellationToken StartDeadline(TimeSpan timeout) => _deadline.Arm(timeout);

    public void ClearDeadline() => _deadline.Clear();

    public void Dispose() => _deadline.Dispose();

    private ParseStatus Parse(in ReadOnlySequence<byte> buffer, RequestHead head, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        ParseStatus status = _parser.ParseHead(ref reader, head);
        consumed = reader.Position;
        return status;
    }
}
