using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Engine.Diagnostics;
using Engine.Transport;

namespace Engine.Tunnel;

/// <summary>
/// Two-way relay between a client and a target that owns both ends directly: no pipes and no task
/// per direction. Each direction (<see cref="Flow"/>) is a small state machine over its two
/// sockets: a zero-byte receive while idle, a pooled 32 KiB block rented only while bytes flow,
/// one send per read. A FIN on one side shuts down writing on the other; the tunnel ends when both
/// directions are done, on the first abort, on idle timeout, or on shutdown. It never throws:
/// the outcome is a <see cref="TunnelResult"/> with the first cause only.
/// </summary>
/// <remarks>
/// What an idle tunnel holds here: this object, two flows and their two continuation delegates
/// (~0.4 KB), beside the sockets themselves; its idle check is a place in a shared list (<see cref="IdleSweep"/>). The per-direction async methods and the client's two
/// pipes it replaces held ~2 KB more per tunnel (docs/performance.md, gcdump of held tunnels).
/// </remarks>
internal sealed partial class TunnelRelay : IValueTaskSource<TunnelResult>, IDisposable
{
    private readonly RelaySide _client;
    private readonly RelaySide _target;
    private readonly Flow _upstream;     // client → target
    private readonly Flow _downstream;   // target → client
    private readonly TimeSpan _idleTimeout;
    private readonly TimeProvider _time;
    private readonly ITrafficSink? _traffic;
    private readonly CancellationTokenRegistration _shutdownRegistration;
    private ManualResetValueTaskSourceCore<TunnelResult> _completion;
    private IdleSweep? _sweep;
    private long _lastActivity;
    private int _running = 2;
    private int _firstCause;   // TerminationState packed: cause << 8 | phase; 0 = none yet
    private long _reported;    // bytes already given to _traffic

    public TunnelRelay(RelaySide client, TcpSocket target, TimeSpan idleTimeout, CancellationToken shutdown, TimeProvider? time = null, ITrafficSink? traffic = null)
    {
        _client = client;
        _target = RelaySide.ForTarget(target);
        _idleTimeout = idleTimeout;
        _time = time ?? TimeProvider.System;
        _traffic = traffic;
        _upstream = new Flow(this, _client, _target);
        _downstream = new Flow(this, _target, _client);
        _shutdownRegistration = shutdown.UnsafeRegister(static s => ((TunnelRelay)s!).Kill(), this);
    }

    public long BytesFromClient => _upstream.Bytes;

    public long BytesFromTarget => _downstream.Bytes;

    /// <summary>Relays until both directions are done; awaited once.</summary>
    public ValueTask<TunnelResult> RunAsync()
    {
        ValueTask<TunnelResult> result = new(this, _completion.Version);
        Begin();
        return result;
    }

    /// <summary>
    /// Relays until both directions are done, then calls <paramref name="ended"/>(<paramref name="state"/>)
    /// on the thread that ended it; the outcome is then <see cref="Result"/>. For an owner that
    /// waits without an async frame (a held tunnel, <see cref="Transport.IConnectionTail"/>).
    /// </summary>
    public void Start(Action<object?> ended, object? state)
    {
        _completion.OnCompleted(ended, state, _completion.Version, ValueTaskSourceOnCompletedFlags.None);
        Begin();
    }

    /// <summary>The outcome, once the relay has ended (read once).</summary>
    public TunnelResult Result => _completion.GetResult(_completion.Version);

    private void Begin()
    {
        Touch();
        if (_idleTimeout > TimeSpan.Zero && _idleTimeout != Timeout.InfiniteTimeSpan)
        {
            // Checked a few times per idle period by one timer shared with every tunnel of the same
            // period (IdleSweep), instead of resetting a timer on every read: activity is a single
            // timestamp write on the relay path.
            TimeSpan period = TimeSpan.FromTicks(Math.Max(_idleTimeout.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks));
            _sweep = IdleSweep.Join(this, _time, period);
        }

        _upstream.Start();
        _downstream.Start();
    }

    private void FlowEnded()
    {
        if (Interlocked.Decrement(ref _running) != 0)
        {
            return;
        }

        _sweep?.Leave(this);
        ReportTraffic(0);   // the remainder
        int packed = Volatile.Read(ref _firstCause);
        TerminationState state = packed == 0
            ? TerminationState.Normal
            : new TerminationState((TerminationCause)(packed >> 8), (TerminationPhase)(packed & 0xFF));
        _completion.SetResult(new TunnelResult(state, BytesFromClient, BytesFromTarget));
    }

    private bool HasFailed => Volatile.Read(ref _firstCause) != 0;

    // Read by a flow at its FIN: the other one already passed its own on and finished.
    private bool OtherFlowEnded => Volatile.Read(ref _running) == 1;

    private void Moved()
    {
        Touch();
        ReportTraffic(TrafficBatchBytes);
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

        long total = BytesFromClient + BytesFromTarget;
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

    /// <summary>IdleSweep's links: this tunnel's neighbours in its sweep's list while it runs.</summary>
    internal TunnelRelay? SweepPrevious { get; set; }

    internal TunnelRelay? SweepNext { get; set; }

    /// <summary>Called by <see cref="IdleSweep"/> a few times per idle period.</summary>
    internal void CheckIdle()
    {
        ReportTraffic(1);   // a slow tunnel still reports what it moved, a few times per idle period

        if (_time.GetElapsedTime(Volatile.Read(ref _lastActivity)) >= _idleTimeout)
        {
            Fail(TerminationCause.ClientTimeout);
        }
    }

    /// <summary>Ends the tunnel because of a shutdown that will not wait any longer.</summary>
    public void Kill() => Fail(TerminationCause.Killed);

    // Records the first cause only and ends both directions: pending I/O is ended by aborting the
    // ends themselves (no token rides on each read and write: a registration per operation
    // allocated ~2.6 KB per MiB relayed).
    private void Fail(TerminationCause cause)
    {
        int packed = ((int)cause << 8) | (int)TerminationPhase.Data;
        if (Interlocked.CompareExchange(ref _firstCause, packed, 0) == 0)
        {
            _client.Abort();
            _target.Abort();
        }
    }

    TunnelResult IValueTaskSource<TunnelResult>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<TunnelResult>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<TunnelResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        _shutdownRegistration.Dispose();
        _sweep?.Leave(this);
    }
}
