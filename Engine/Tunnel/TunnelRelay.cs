using System.IO.Pipelines;
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
/// What an idle tunnel holds here: this object, two flows, their two continuation delegates and
/// two socket ends (~0.6 KB), beside the sockets themselves; its idle check is a place in a shared
/// list (<see cref="IdleSweep"/>). The per-direction async methods and the client's two pipes it
/// replaces held ~2 KB more per tunnel (docs/performance.md, gcdump of held tunnels). A relay is
/// made once and reused tunnel after tunnel by its owner's pool (<see cref="Attach"/>,
/// <see cref="Release"/>): made per tunnel, it and its parts were ~0.7 KB of every CONNECT.
/// </remarks>
internal sealed partial class TunnelRelay : IValueTaskSource<TunnelResult>, IDisposable
{
    private readonly Flow _upstream;       // client → target
    private readonly Flow _downstream;     // target → client
    private readonly SocketSide _targetEnd = new(isClient: false);
    private readonly SocketSide _clientSocketEnd = new(isClient: true);   // a plain client's end; a TLS client gets a PipeSide
    private RelaySide _client = null!;
    private RelaySide _target = null!;
    private TimeSpan _idleTimeout;
    private TimeProvider _time = TimeProvider.System;
    private ITrafficSink? _traffic;
    private CancellationTokenRegistration _shutdownRegistration;
    private ManualResetValueTaskSourceCore<TunnelResult> _completion;
    private IdleSweep? _sweep;
    private long _lastActivity;
    private int _running;
    private int _firstCause;   // TerminationState packed: cause << 8 | phase; 0 = none yet
    private long _reported;    // bytes already given to _traffic

    // The owner's hold, plus one while a Fail runs: Fail aborts both ends one after the other, and
    // the first abort can end the tunnel (inline, or on another loop thread) before the second
    // runs. A pooled relay goes back to its owner's pool only when the last hold is let go, so that
    // second abort never reaches the next tunnel's end.
    private int _holds;
    private Action<object?>? _released;
    private object? _releasedState;

    /// <summary>An unattached relay, for a pool: <see cref="Attach"/> before each tunnel.</summary>
    public TunnelRelay()
    {
        _upstream = new Flow(this);
        _downstream = new Flow(this);
    }

    public TunnelRelay(PipeReader clientInput, PipeWriter clientOutput, TcpSocket target, TimeSpan idleTimeout, CancellationToken shutdown,
        TimeProvider? time = null, ITrafficSink? traffic = null)
        : this() => Attach(clientInput, clientOutput, target, idleTimeout, shutdown, time, traffic);

    /// <summary>
    /// Sets the relay up for a tunnel between a client connection and <paramref name="target"/>:
    /// the client's socket itself when the connection is plain (bytes the head reader already
    /// holds — a TLS ClientHello sent right behind the CONNECT — go first), the decrypted stream
    /// otherwise. A relay is attached again only after its last <see cref="Release"/>.
    /// </summary>
    public void Attach(PipeReader clientInput, PipeWriter clientOutput, TcpSocket target, TimeSpan idleTimeout, CancellationToken shutdown,
        TimeProvider? time = null, ITrafficSink? traffic = null)
    {
        if (clientInput is SocketReader { Socket: { } socket } reader && clientOutput is SocketWriter writer)
        {
            _clientSocketEnd.Attach(socket, reader, writer);
            _client = _clientSocketEnd;
        }
        else
        {
            _client = new PipeSide(clientInput, clientOutput);
        }

        _targetEnd.Attach(target, buffered: null, writer: null);
        _target = _targetEnd;
        _idleTimeout = idleTimeout;
        _time = time ?? TimeProvider.System;
        _traffic = traffic;
        _completion.Reset();
        _sweep = null;
        _running = 2;
        _firstCause = 0;
        _reported = 0;
        _holds = 1;
        _upstream.Attach(_client, _target);
        _downstream.Attach(_target, _client);
        _shutdownRegistration = shutdown.UnsafeRegister(static s => ((TunnelRelay)s!).Kill(), this);
    }

    /// <summary>
    /// The owner is done with the ended relay (it read <see cref="Result"/> and disposed it):
    /// <paramref name="released"/>(<paramref name="state"/>) runs once nothing else touches it —
    /// at once, or when an abort still running on another thread returns — and the relay may then
    /// be attached again. It lets go of both ends first, so a pooled relay pins no connection.
    /// </summary>
    public void Release(Action<object?> released, object? state)
    {
        _released = released;
        _releasedState = state;
        Drop();
    }

    private void Drop()
    {
        if (Interlocked.Decrement(ref _holds) != 0)
        {
            return;
        }

        _clientSocketEnd.Detach();
        _targetEnd.Detach();
        _client = null!;
        _target = null!;
        _upstream.Detach();
        _downstream.Detach();
        _traffic = null;
        Action<object?>? released = _released;
        object? state = _releasedState;
        _released = null;
        _releasedState = null;
        released?.Invoke(state);
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

    /// <summary>Directions still running (2, 1, 0): a flow passes its FIN on before it counts itself out.</summary>
    internal int RunningFlows => Volatile.Read(ref _running);

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
        Interlocked.Increment(ref _holds);   // before the claim: once claimed, the ends may end the tunnel under it
        if (Interlocked.CompareExchange(ref _firstCause, packed, 0) == 0)
        {
            // A reset (or a broken send) on one end is passed on as a reset: a FIN would tell the
            // other end its stream is complete (a close-delimited body inside the tunnel). Not to
            // an end that already got its FIN (its stream is complete; a reset would only drop its
            // tail still queued), and not for the engine's own cuts (a cap, the idle timeout, the
            // drain): those end with a FIN behind the bytes already relayed, which were counted.
            bool reset = cause is TerminationCause.TargetAbort or TerminationCause.ClientAbort;
            _client.Abort(reset && !_client.EndPassedOn);
            _target.Abort(reset && !_target.EndPassedOn);
        }

        Drop();
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
