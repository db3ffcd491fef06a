using System.IO.Pipelines;
using System.Net;
using Engine.Forwarding;
using Engine.Limits;
using Engine.Transport;
using Engine.Tunnel;
using Engine.Upstream;

namespace Engine.Connection;

/// <summary>
/// A tunnel after its 200 (or SOCKS5 success), outliving the <see cref="ProxyConnection"/> that
/// opened it. Once the relay runs, the connection has nothing left to do but wait for it, so it
/// hands over what the tunnel's end needs — the relay and the target socket, the admission
/// (concurrency slot, traffic meter, breaker), the node it entered, the request's record and the
/// few bytes of its log line — and its own objects go: the request head and its header table,
/// the head reader, the router and the suspended async frames of the request loop, ~2 KB of every
/// held tunnel (docs/performance.md). HAProxy's stream is likewise two connections and their
/// buffers once a tunnel is established.
/// </summary>
/// <remarks>
/// A handoff and its relay are reused from tunnel to tunnel (<see cref="ConnectionPool.RentTunnel"/>):
/// made per CONNECT they were ~1.1 KB of the ~2.4 KB a tunnel allocated. The admission it takes
/// over is swapped for the previous tunnel's, which has ended, so the connection gets one back.
/// </remarks>
internal sealed class TunnelHandoff : IConnectionTail, IDisposable
{
    private readonly ConnectionPool _home;
    private readonly TunnelRelay _relay = new();
    private ProxyServices _services = null!;
    private TcpSocket _target = null!;
    private RequestAdmission _admission = new();   // while pooled: the last tunnel's, ended, for the next connection
    private Node? _entered;
    private Node? _node;
    private int _attempts;
    private IPEndPoint _client = null!;
    private byte[] _line = [];    // the method, the request-target (as received), then the rules; grows to the longest seen
    private int _methodLength;
    private int _targetLength;
    private int _rulesLength;
    private RequestState _request;
    private Action<object?>? _ended;
    private object? _endedState;

    /// <summary>Made by <see cref="ConnectionPool.RentTunnel"/> only.</summary>
    internal TunnelHandoff(ConnectionPool home) => _home = home;

    /// <summary>
    /// Takes the tunnel over from its connection: the relay is set up between the client's
    /// <paramref name="input"/>/<paramref name="output"/> and <paramref name="target"/>. Returns
    /// an admission the connection keeps for its next client (this one's previous, ended).
    /// </summary>
    public RequestAdmission Attach(ProxyServices services, in RequestState request, PipeReader input, PipeWriter output, TcpSocket target,
        RequestAdmission admission, Router router, IPEndPoint client,
        ReadOnlySpan<byte> method, ReadOnlySpan<byte> requestTarget, ReadOnlySpan<byte> rules, CancellationToken aborted)
    {
        _services = services;
        _request = request;
        _target = target;
        _relay.Attach(input, output, target, services.Limits.IdleTimeout, aborted, services.Time, admission.Traffic);
        _entered = router.TakeEntered();
        _node = router.Node;
        _attempts = router.Attempts;
        _client = client;
        int length = method.Length + requestTarget.Length + rules.Length;
        if (_line.Length < length)
        {
            _line = new byte[length];
        }

        method.CopyTo(_line);
        requestTarget.CopyTo(_line.AsSpan(method.Length));
        rules.CopyTo(_line.AsSpan(method.Length + requestTarget.Length));
        _methodLength = method.Length;
        _targetLength = requestTarget.Length;
        _rulesLength = rules.Length;
        RequestAdmission spare = _admission;
        _admission = admission;
        return spare;
    }

    /// <summary>
    /// Relays until both directions are done, ends the request as the connection would have
    /// (bytes, slot, node, log line), then calls <paramref name="ended"/>. Nothing awaits in
    /// between: the relay calls back when its last direction ends.
    /// </summary>
    public void Start(Action<object?> ended, object? state)
    {
        _ended = ended;
        _endedState = state;
        _relay.Start(static handoff => ((TunnelHandoff)handoff!).RelayEnded(), this);
    }

    /// <summary>The same, awaited: for a connection whose frames stay anyway (TLS, whose stream lives in them).</summary>
    public Task RunAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Start(static state => ((TaskCompletionSource)state!).SetResult(), done);
        return done.Task;
    }

    private void RelayEnded()
    {
        try
        {
            End(_relay.Result);
        }
        catch (Exception e)
        {
            // Runs on the loop thread that ended the relay: a fault in this bookkeeping must not
            // take that thread (and every socket on it) down, and must not pass unseen either.
            ConnectionLog.InternalError(_services.Log, _request.CorrelationId.ToString(), e);
        }
        finally
        {
            Action<object?> ended = _ended!;
            object? endedState = _endedState;
            _ended = null;
            _endedState = null;
            _target = null!;
            _client = null!;
            _entered = _node = null;
            _request = default;
            ended(endedState);
            _relay.Release(static handoff => ((TunnelHandoff)handoff!)._home.ReturnTunnel((TunnelHandoff)handoff), this);
        }
    }

    private void End(TunnelResult result)
    {
        _relay.Dispose();
        _target.Close();
        _request.BytesIn += result.BytesFromClient;
        _request.BytesOut += result.BytesFromTarget;
        _request.EndAnswered(result.Termination, ExchangeFailure.None, _services.Limiter);
        _admission.End(_request.BytesIn + _request.BytesOut, _request.CircuitOutcome, _services.Time.GetTimestamp());
        _entered?.Leave();
        RequestLog.Write(_services, _request, _line.AsSpan(0, _methodLength), _line.AsSpan(_methodLength, _targetLength), _client, _node, _attempts,
            tunnel: true, _line.AsSpan(_methodLength + _targetLength, _rulesLength));
    }

    /// <summary>For the pool: a handoff it does not keep (its relay has ended; this is idempotent).</summary>
    public void Dispose() => _relay.Dispose();
}
