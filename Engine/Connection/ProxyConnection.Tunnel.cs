using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Targets;
using Engine.Socks;
using Engine.Transport;
using Engine.Tunnel;
using Engine.Upstream;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    private static ReadOnlySpan<byte> ConnectionEstablished => "HTTP/1.1 200 Connection established\r\n"u8;

    /// <summary>CONNECT: open the path, answer 200, and hand the relay over (<see cref="TunnelHandoff"/>): the connection's loop ends there.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> TunnelAsync()
    {
        try
        {
            string host = TargetHostString();
            int port = _head.TargetPort;
            if (await RefuseTargetAsync(host, port, isConnect: true).ConfigureAwait(false) is bool refused)
            {
                return refused;
            }

            (RouteResult route, bool clientContinues) = await OpenRouteAsync(new RouteTarget(host, port, _head, ConnectPurpose.Tunnel)).ConfigureAwait(false);
            if (route.Status != RouteStatus.Connected)
            {
                return clientContinues;
            }

            TcpSocket target = route.Socket!;
            WriteConnectionEstablished();
            if (!route.Early.IsEmpty)
            {
                // Target bytes the upstream proxy sent right behind its own 200.
                _output.Write(route.Early.Span);
                _request.BytesOut += route.Early.Length;
            }

            if (!await FlushAsync().ConfigureAwait(false))
            {
                target.Close();
                EndAnswered(new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Connect), ExchangeFailure.None);
                return false;
            }

            // The relay runs after this connection object is gone (TunnelHandoff): it ends the request.
            _request.Status = 200;
            TunnelHandoff handoff = _home.RentTunnel();
            _admission = handoff.Attach(_services, _request, _input, _output, target, _admission, _router, _client, _head.MethodBytes, _head.Target, LoggedRules, _aborted);
            _handoff = handoff;
            return false;
        }
        finally
        {
            if (_handoff is null)
            {
                EndAdmitted();   // refused or failed before its 200; a running tunnel ends its admission itself
            }
        }
    }

    private void WriteConnectionEstablished()
    {
        if (_socks)
        {
            _request.BytesOut += Socks5Handshake.WriteReply(_output, Socks5Reply.Succeeded);
            return;
        }

        Span<byte> span = _output.GetSpan(ConnectionEstablished.Length + NodeFields.MaxLength + 2);
        ConnectionEstablished.CopyTo(span);
        int n = ConnectionEstablished.Length;
        n += NodeFields.Write(span[n..], _services.ExposeNode, _router.Node?.IdBytes, _router.Attempts);
        "\r\n"u8.CopyTo(span[n..]);
        n += 2;
        _output.Advance(n);
        _request.BytesOut += n;
    }
}
