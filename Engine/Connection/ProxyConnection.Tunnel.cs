using System.Buffers;
using System.Buffers.Text;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Targets;
using Engine.Transport;
using Engine.Tunnel;
using Engine.Upstream;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    private static ReadOnlySpan<byte> ConnectionEstablished => "HTTP/1.1 200 Connection established\r\n"u8;

    private static ReadOnlySpan<byte> ProxyNodeHeader => "X-Proxy-Node: "u8;

    /// <summary>CONNECT: open the target, answer 200, relay both ways until both sides are done.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> TunnelAsync()
    {
        string host = TargetHostString();
        int port = _head.TargetPort;
        if (!CheckTargetPolicy(host, port, isConnect: true, out ErrorCode refusal, out byte[] detail))
        {
            return await RejectAsync(refusal, detail).ConfigureAwait(false);
        }

        if (!PassCircuit(host, out int circuitRetryAfter))
        {
            return await RejectCircuitOpenAsync(circuitRetryAfter).ConfigureAwait(false);
        }

        (Socket? opened, ReadOnlyMemory<byte> early, _, bool clientContinues) = await OpenPathAsync(host, port, ConnectPurpose.Tunnel, pool: null).ConfigureAwait(false);
        if (opened is null)
        {
            return clientContinues;
        }

        using Socket target = opened;
        WriteConnectionEstablished();
        if (!early.IsEmpty)
        {
            // Target bytes the upstream proxy sent right behind its own 200.
            _output.Write(early.Span);
            _bytesOut += early.Length;
        }

        if (!await FlushAsync().ConfigureAwait(false))
        {
            _termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Connect);
            return false;
        }

        _status = 200;
        using var relay = new TunnelRelay(_input, _output, target, _services.Limits.IdleTimeout, _aborted, _services.Time, _traffic);
        TunnelResult result = await relay.RunAsync().ConfigureAwait(false);
        _bytesIn += result.BytesFromClient;
        _bytesOut += result.BytesFromTarget;
        _termination = result.Termination;
        if (result.Termination.Cause == TerminationCause.Resource)
        {
            MarkTrafficCut();
        }

        return false;
    }

    private void WriteConnectionEstablished()
    {
        if (_socks)
        {
            _bytesOut += WriteSocksReply(Errors.Socks5Reply.Succeeded);
            return;
        }

        Span<byte> span = _output.GetSpan(256);
        int n = 0;
        ConnectionEstablished.CopyTo(span);
        n += ConnectionEstablished.Length;
        n += WriteNodeHeaders(span[n..]);

        "\r\n"u8.CopyTo(span[n..]);
        n += 2;
        _output.Advance(n);
        _bytesOut += n;
    }

    private static ReadOnlySpan<byte> AttemptsHeader => "X-Proxy-Attempts: "u8;

    /// <summary>
    /// <c>X-Proxy-Node</c> (when <c>ExposeNode</c> is on) so a fleet can ban a bad exit, and
    /// <c>X-Proxy-Attempts</c> when failover replaced a node before this answer.
    /// </summary>
    private int WriteNodeHeaders(Span<byte> span)
    {
        int n = 0;
        if (_services.ExposeNode && _nodeIdBytes.Length > 0)
        {
            ProxyNodeHeader.CopyTo(span);
            n += ProxyNodeHeader.Length;
            ReadOnlySpan<byte> id = _nodeIdBytes.AsSpan(0, Math.Min(_nodeIdBytes.Length, 128));
            id.CopyTo(span[n..]);
            n += id.Length;
            "\r\n"u8.CopyTo(span[n..]);
            n += 2;
        }

        if (_attempts > 1)
        {
            AttemptsHeader.CopyTo(span[n..]);
            n += AttemptsHeader.Length;
            Utf8Formatter.TryFormat(_attempts, span[n..], out int written);
            n += written;
            "\r\n"u8.CopyTo(span[n..]);
            n += 2;
        }

        return n;
    }

    /// <summary>Ports and the blocklist, checked on the name before anything is resolved.</summary>
    private bool CheckTargetPolicy(string host, int port, bool isConnect, out ErrorCode error, out byte[] detail)
    {
        PolicyVerdict verdict = _services.Policy.CheckRequest(host, port, isConnect);
        error = verdict == PolicyVerdict.Allowed ? ErrorCode.None : ErrorCode.Disallowed;
        detail = verdict switch
        {
            PolicyVerdict.PortNotAllowed => PortNotAllowedDetail(port),
            PolicyVerdict.BlockedDomain => BlockedDomainDetail,
            _ => [],
        };
        return verdict == PolicyVerdict.Allowed;
    }

    private static readonly byte[] BlockedDomainDetail = "the target domain is on the blocklist (Security:BlockedDomains)"u8.ToArray();

    private static byte[] PortNotAllowedDetail(int port)
    {
        Span<byte> buffer = stackalloc byte[96];
        "CONNECT to port "u8.CopyTo(buffer);
        int n = "CONNECT to port "u8.Length;
        Utf8Formatter.TryFormat(port, buffer[n..], out int written);
        n += written;
        ReadOnlySpan<byte> tail = " is not allowed (Security:AllowedConnectPorts)"u8;
        tail.CopyTo(buffer[n..]);
        return buffer[..(n + tail.Length)].ToArray();
    }

    /// <summary>Maps a failed connect to its catalog error, naming who failed and when.</summary>
    private ValueTask<bool> RejectConnectAsync(in ConnectResult connect)
    {
        (ErrorCode code, TerminationCause cause) = connect.Status switch
        {
            ConnectStatus.Disallowed => (ErrorCode.Disallowed, TerminationCause.Proxy),
            ConnectStatus.NameNotResolved => (ErrorCode.NameNotResolved, TerminationCause.TargetAbort),
            ConnectStatus.Refused => (ErrorCode.TargetConnectFailed, TerminationCause.TargetAbort),
            ConnectStatus.TimedOut => (ErrorCode.GatewayTimeout, TerminationCause.TargetTimeout),
            ConnectStatus.NodeCannotCarry => (_head.TargetForm == Engine.Http.TargetForm.Authority ? ErrorCode.BuildConnect : ErrorCode.BuildRequest, TerminationCause.Proxy),
            ConnectStatus.Aborted => (ErrorCode.Overloaded, TerminationCause.Killed),
            _ => (ErrorCode.NodeUnavailable, TerminationCause.TargetAbort),
        };
        _termination = new TerminationState(cause, TerminationPhase.Connect);
        return RejectAsync(code, ConnectFailureDetail(connect));
    }

    private static ReadOnlySpan<byte> ConnectFailureDetail(in ConnectResult connect) => connect.Status switch
    {
        ConnectStatus.Disallowed => ForbiddenAddressDetail(connect.AddressClass),
        ConnectStatus.NameNotResolved => "the target host name does not resolve"u8,
        ConnectStatus.Refused => "the target refused the connection or was unreachable"u8,
        ConnectStatus.TimedOut => "no connection to the target within ConnectTimeout"u8,
        ConnectStatus.NodeAuthFailed => "the upstream node rejected the engine's credentials"u8,
        ConnectStatus.NodeCannotCarry => "the chosen node cannot carry this request (its upstream refused the command or address type)"u8,
        ConnectStatus.Aborted => "the engine is shutting down"u8,
        _ => "the chosen node failed while the connection was set up"u8,
    };

    private static ReadOnlySpan<byte> ForbiddenAddressDetail(AddressClass addressClass) => addressClass switch
    {
        AddressClass.Loopback => "the target resolves to a loopback address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.Private => "the target resolves to a private address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.LinkLocal => "the target resolves to a link-local address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.Metadata => "the target resolves to a cloud metadata address (Security:AllowPrivateTargets is off)"u8,
        AddressClass.Multicast => "the target resolves to a multicast address"u8,
        AddressClass.Unspecified => "the target resolves to an unspecified address"u8,
        _ => "the target resolves to a reserved address (Security:AllowPrivateTargets is off)"u8,
    };
}
