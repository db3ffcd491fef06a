using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Engine.Diagnostics;

namespace Engine.Tunnel;

/// <summary>
/// Two-way relay between a client connection (pipes from the transport) and a target socket.
/// Each direction copies once: client bytes go from the pipe's buffers straight to
/// <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/>, target bytes are
/// received straight into the client's output pipe. A FIN on one side shuts down writing on
/// the other; the tunnel ends when both directions are done, on the first abort, on idle
/// timeout, or on shutdown. It never throws: the outcome is a <see cref="TunnelResult"/>.
/// </summary>
internal sealed class TunnelRelay : IDisposable
{
    // One receive takes up to 32 KiB straight into the client's output pipe: 4 KiB reads cost a
    // syscall and a pipe hand-off per 4 KiB and held a 1.6 GB/s loopback link to ~290 MB/s.
    // Only a tunnel with data in flight holds the buffer (the zero-byte read comes first).
    private const int MinimumReceiveSize = 32 * 1024;

    private readonly PipeReader _clientInput;
    private readonly PipeWriter _clientOutput;
    private readonly Socket _target;
    private readonly TimeSpan _idleTimeout;
    private readonly CancellationTokenSource _abort;
    private readonly TimeProvider _time;
    private readonly CancellationTokenRegistration _shutdownRegistration;
    private ITimer? _idleTimer;
    private long _lastActivity;
    private long _fromClient;
    private long _fromTarget;
    private int _firstCause;   // TerminationState packed: cause << 8 | phase; 0 = none yet
    private readonly ITrafficSink? _traffic;
    private long _reported;    // bytes already given to _traffic

    public TunnelRelay(PipeReader clientInput, PipeWriter clientOutput, Socket target, TimeSpan idleTimeout, CancellationToken shutdown, TimeProvider? time = null,
        ITrafficSink? traffic = null)
    {
        _traffic = traffic;
        _clientInput = clientInput;
        _clientOutput = clientOutput;
        _target = target;
        _idleTimeout = idleTimeout;
        _time = time ?? TimeProvider.System;
        _abort = new CancellationTokenSource();
        _shutdownRegistration = shutdown.UnsafeRegister(static s => ((TunnelRelay)s!).Kill(), this);
    }

    public long BytesFromClient => Volatile.Read(ref _fromClient);

    public long BytesFromTarget => Volatile.Read(ref _fromTarget);

    public async Task<TunnelResult> RunAsync()
    {
        Touch();
        if (_idleTimeout > TimeSpan.Zero && _idleTimeout != Timeout.InfiniteTimeSpan)
        {
            // One timer per tunnel, ticking a few times per idle period, instead of resetting a
            // timer on every read: activity is a single timestamp write on the relay path.
            TimeSpan period = TimeSpan.FromTicks(Math.Max(_idleTimeout.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks));
            _idleTimer = _time.CreateTimer(static s => ((TunnelRelay)s!).CheckIdle(), this, period, period);
        }

        Task upstream = ClientToTargetAsync();
        Task downstream = TargetToClientAsync();
        await Task.WhenAll(upstream, downstream).ConfigureAwait(false);
        _idleTimer?.Dispose();
        ReportTraffic(0);   // the remainder

        int packed = Volatile.Read(ref _firstCause);
        TerminationState state = packed == 0
            ? TerminationState.Normal
            : new TerminationState((TerminationCause)(packed >> 8), (TerminationPhase)(packed & 0xFF));
        return new TunnelResult(state, BytesFromClient, BytesFromTarget);
    }

    private async Task ClientToTargetAsync()
    {
        CancellationToken token = _abort.Token;
        bool sending = false;
        try
        {
            while (true)
            {
                sending = false;
                ReadResult read = await _clientInput.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                if (read.IsCanceled)
                {
                    // Ours (Fail) ends the direction; anyone else's cancellation is not our business.
                    if (Volatile.Read(ref _firstCause) != 0)
                    {
                        return;
                    }

                    _clientInput.AdvanceTo(buffer.Start);
                    continue;
                }

                sending = true;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    ValueTask<int> send = _target.SendAsync(segment, SocketFlags.None);
                    if (!send.IsCompletedSuccessfully)
                    {
                        await send.ConfigureAwait(false);
                    }
                }

                if (!buffer.IsEmpty)
                {
                    Interlocked.Add(ref _fromClient, buffer.Length);
                    Touch();
                    ReportTraffic(TrafficBatchBytes);
                }

                _clientInput.AdvanceTo(buffer.End);
                if (read.IsCompleted)
                {
                    // Client FIN: pass it on so the target sees the end of the request (half-close).
                    _target.Shutdown(SocketShutdown.Send);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // Reading failed: the client's connection broke. Sending failed: the target's did.
            Fail(sending ? TerminationCause.TargetAbort : TerminationCause.ClientAbort);
        }
    }

    private async Task TargetToClientAsync()
    {
        CancellationToken token = _abort.Token;
        bool flushing = false;
        bool streaming = false;
        try
        {
            while (true)
            {
                flushing = false;

                // Zero-byte read first: an idle tunnel waits here without holding a buffer. Not
                // while a download streams: a read that filled the whole buffer left more in the
                // socket, and the wait would only add a syscall per 32 KiB.
                if (!streaming)
                {
                    ValueTask<int> wait = _target.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
                    if (!wait.IsCompletedSuccessfully)
                    {
                        await wait.ConfigureAwait(false);
                    }
                }

                Memory<byte> memory = _clientOutput.GetMemory(MinimumReceiveSize);
                ValueTask<int> receive = _target.ReceiveAsync(memory, SocketFlags.None);
                int received = receive.IsCompletedSuccessfully ? receive.Result : await receive.ConfigureAwait(false);
                streaming = received == memory.Length && memory.Length >= MinimumReceiveSize;
                if (received == 0)
                {
                    // Target FIN: completing the output lets the transport shut down the client's send side.
                    await _clientOutput.CompleteAsync().ConfigureAwait(false);
                    return;
                }

                _clientOutput.Advance(received);
                Interlocked.Add(ref _fromTarget, received);
                Touch();
                ReportTraffic(TrafficBatchBytes);

                flushing = true;
                ValueTask<FlushResult> flush = _clientOutput.FlushAsync();
                FlushResult flushed = flush.IsCompletedSuccessfully ? flush.Result : await flush.ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    Fail(TerminationCause.ClientAbort);   // the client is gone; nothing more can be written
                    return;
                }

                if (flushed.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            Fail(flushing ? TerminationCause.ClientAbort : TerminationCause.TargetAbort);
        }
    }

    private void Touch() => Volatile.Write(ref _lastActivity, _time.GetTimestamp());

    // Bytes are reported to the package's account in batches, never per read: one shared-counter
    // update per MiB. The sink says when the package has no traffic left; the tunnel is cut then.
    private const long TrafficBatchBytes = 1024 * 1024;

    private void ReportTraffic(long atLeast)
    {
        if (_traffic is null)
        {
            return;
        }

        long total = Volatile.Read(ref _fromClient) + Volatile.Read(ref _fromTarget);
        long reported = Volatile.Read(ref _reported);
        long pending = total - reported;
        if (pending <= 0 || pending < atLeast || Interlocked.CompareExchange(ref _reported, total, reported) != reported)
        {
            return;
        }

        if (!_traffic.Report(pending) && atLeast > 0)
        {
            Fail(TerminationCause.Resource);
        }
    }

    private void CheckIdle()
    {
        ReportTraffic(1);   // a slow tunnel still reports what it moved, a few times per idle period

        if (_time.GetElapsedTime(Volatile.Read(ref _lastActivity)) >= _idleTimeout)
        {
            Fail(TerminationCause.ClientTimeout);
        }
    }

    /// <summary>Ends the tunnel because of a shutdown that will not wait any longer.</summary>
    public void Kill() => Fail(TerminationCause.Killed);

    // Records the first cause only and stops both directions.
    private void Fail(TerminationCause cause)
    {
        int packed = ((int)cause << 8) | (int)TerminationPhase.Data;
        if (Interlocked.CompareExchange(ref _firstCause, packed, 0) == 0)
        {
            // No token rides on each read and write (a registration per operation allocated
            // ~2.6 KB per MiB relayed): pending I/O is ended directly instead, as Kestrel does.
            _abort.Cancel();
            _clientInput.CancelPendingRead();
            _clientOutput.CancelPendingFlush();
            try
            {
                _target.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _target.Dispose();
        }
    }

    public void Dispose()
    {
        _shutdownRegistration.Dispose();
        _idleTimer?.Dispose();
        _abort.Dispose();
    }
}
