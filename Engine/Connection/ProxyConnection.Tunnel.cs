using System.Buffers.Text;
using System.Net.Sockets;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Targets;
using Engine.Tunnel;
using Engine.Upstream;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    private static ReadOnlySpan<byte> ConnectionEstablished => "HTTP/1.1 200 Connection established\r\n"u8;

    private static ReadOnlySpan<byte> ProxyNodeHeader => "X-Proxy-Node: "u8;

    /// <summary>CONNECT: open the target, answer 200, relay both ways until both sides are done.</summary>
    private async Task<bool> TunnelAsync()
    {
        string host = System.Text.Encoding.ASCII.GetString(_head.TargetHost);
        int port = _head.TargetPort;
        if (!CheckTargetPolicy(host, port, isConnect: true, out ErrorCode refusal, out byte[] detail))
        {
            return await RejectAsync(refusal, detail).ConfigureAwait(false);
        }

        _nodeId = _services.DirectNodeId;
        ConnectResult connect = await _services.Direct.ConnectAsync(host, port, _aborted).ConfigureAwait(false);
        if (connect.Status != ConnectStatus.Connected)
        {
            return await RejectConnectAsync(connect).ConfigureAwait(false);
        }

        using Socket target = connect.Socket!;
        WriteConnectionEstablished();
        if (!await FlushAsync().ConfigureAwait(false))
        {
            _termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Connect);
            return false;
        }

        _status = 200;
        using var relay = new TunnelRelay(_input, _output, target, _services.Limits.IdleTimeout, _aborted, _services.Time);
        TunnelResult result = await relay.RunAsync().ConfigureAwait(false);
        _bytesIn += result.BytesFromClient;
        _bytesOut += result.BytesFromTarget;
        _termination = result.Termination;
        return false;
    }

    private void WriteConnectionEstablished()
    {
        Span<byte> span = _output.GetSpan(256);
        int n = 0;
        ConnectionEstablished.CopyTo(span);
        n += ConnectionEstablished.Length;
        if (_services.ExposeNode)
        {
            ProxyNodeHeader.CopyTo(span[n..]);
            n += ProxyNodeHeader.Length;
            n += System.Text.Encoding.ASCII.GetBytes(_nodeId.AsSpan(0, Math.Min(_nodeId.Length, 128)), span[n..]);
            "\r\n"u8.CopyTo(span[n..]);
            n += 2;
        }

        "\r\n"u8.CopyTo(span[n..]);
        n += 2;
        _output.Advance(n);
        _bytesOut += n;
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
            ConnectStatus.NodeCannotCarry => (ErrorCode.BuildConnect, TerminationCause.Proxy),
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
        ConnectStatus.NodeCannotCarry => "the chosen node cannot carry this tunnel"u8,
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
