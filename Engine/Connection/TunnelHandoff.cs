using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
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
internal sealed class TunnelHandoff : IConnectionTail
{
    private readonly ProxyServices _services;
    private readonly TunnelRelay _relay;
    private readonly TcpSocket _target;
    private readonly RequestAdmission _admission;
    private readonly Node? _entered;
    private readonly Node? _node;
    private readonly int _attempts;
    private readonly IPEndPoint _client;
    private readonly byte[] _line;          // the method, the request-target (as received), then the rules
    private readonly int _methodLength;
    private readonly int _targetLength;
    private RequestState _request;
    private Action<object?>? _ended;
    private object? _endedState;

    public TunnelHandoff(ProxyServices services, in RequestState request, TunnelRelay relay, TcpSocket target, RequestAdmission admission,
        Router router, IPEndPoint client, ReadOnlySpan<byte> method, ReadOnlySpan<byte> requestTarget, ReadOnlySpan<byte> rules)
    {
        _services = services;
        _request = request;
        _relay = relay;
        _target = target;
        _admission = admission;
        _entered = router.TakeEntered();
        _node = router.Node;
        _attempts = router.Attempts;
        _client = client;
        _line = new byte[method.Length + requestTarget.Length + rules.Length];
        method.CopyTo(_line);
        requestTarget.CopyTo(_line.AsSpan(method.Length));
        rules.CopyTo(_line.AsSpan(method.Length + requestTarget.Length));
        _methodLength = method.Length;
        _targetLength = requestTarget.Length;
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
            _ended!(_endedState);
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
            tunnel: true, _line.AsSpan(_methodLength + _targetLength));
    }
}
