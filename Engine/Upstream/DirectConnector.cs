using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Transport;
using Engine.Targets;

namespace Engine.Upstream;

/// <summary>
/// Direct egress from the engine's own host: resolve, check every resolved address against the
/// policy, connect to the first allowed one within one deadline (resolution included), and
/// classify the failure so the connection layer can answer with the right catalog error.
/// </summary>
internal sealed class DirectConnector
{
    private readonly DnsCache _dns;
    private readonly TargetPolicy _policy;
    private readonly TimeSpan _connectTimeout;
    private readonly ConnectDeadlines _deadlines = new();
    private readonly IPEndPoint? _localEndPoint;
    private readonly Func<AddressFamily, TcpSocket> _openSocket;

    /// <param name="openSocket">Makes the socket for a connect (<see cref="TcpSocket.Create"/>; a test's to run out of descriptors on cue).</param>
    public DirectConnector(DnsCache dns, TargetPolicy policy, TimeSpan connectTimeout, IPAddress? localAddress = null, Func<AddressFamily, TcpSocket>? openSocket = null)
    {
        _dns = dns;
        _policy = policy;
        _connectTimeout = connectTimeout;
        _localEndPoint = localAddress is null ? null : new IPEndPoint(localAddress, 0);
        _openSocket = openSocket ?? TcpSocket.Create;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<ConnectResult> ConnectAsync(string host, int port, CancellationToken shutdown)
    {
        CancellationTokenSource deadline = _deadlines.Start(_connectTimeout, shutdown);
        try
        {

            ResolveResult resolved = await _dns.ResolveAsync(host, deadline.Token).ResumeOnLoop();
            switch (resolved.Status)
            {
                case ResolveStatus.NotFound:
                case ResolveStatus.Failed:
                    return new ConnectResult(ConnectStatus.NameNotResolved);
                case ResolveStatus.TimedOut:
                    return new ConnectResult(shutdown.IsCancellationRequested ? ConnectStatus.Aborted : ConnectStatus.TimedOut);
            }

            ConnectResult last = default;
            bool anyAllowed = false;
            foreach (IPAddress address in resolved.Addresses)
            {
                if (_policy.CheckAddress(address, out AddressClass addressClass) != PolicyVerdict.Allowed)
                {
                    // Report the first refusal unless a later allowed address is tried.
                    if (!anyAllowed && last.Status != ConnectStatus.Disallowed)
                    {
                        last = new ConnectResult(ConnectStatus.Disallowed, Verdict: PolicyVerdict.ForbiddenAddress, AddressClass: addressClass);
                    }

                    continue;
                }

                anyAllowed = true;
                last = await TryConnectAsync(address, port, deadline.Token, shutdown).ConfigureAwait(false);
                if (last.Status is ConnectStatus.Connected or ConnectStatus.TimedOut or ConnectStatus.Aborted or ConnectStatus.OutOfSockets)
                {
                    return last;
                }
            }

            return last.Status == ConnectStatus.Connected && last.Socket is null ? new ConnectResult(ConnectStatus.NameNotResolved) : last;
        }
        finally
        {
            _deadlines.Return(deadline, shutdown);
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ConnectResult> TryConnectAsync(IPAddress address, int port, CancellationToken deadline, CancellationToken shutdown)
    {
        TcpSocket socket;
        try
        {
            socket = _openSocket(address.AddressFamily);
        }
        catch (SocketException e)
        {
            // Out of descriptors or memory is the engine's own limit (OVERLOADED, nobody blamed);
            // anything else (the family unsupported here) leaves this address unreachable.
            return new ConnectResult(TcpSocket.IsOutOfSockets(e.SocketErrorCode) ? ConnectStatus.OutOfSockets : ConnectStatus.Refused, SocketError: e.SocketErrorCode);
        }

        try
        {
            if (_localEndPoint is not null)
            {
                socket.Bind(_localEndPoint.AddressFamily == address.AddressFamily ? _localEndPoint : new IPEndPoint(IPAddress.IPv6Any, 0));
            }

            await socket.ConnectAsync(address, port, deadline).ConfigureAwait(false);
            return new ConnectResult(ConnectStatus.Connected, socket);
        }
        catch (OperationCanceledException)
        {
            socket.Close();
            return new ConnectResult(shutdown.IsCancellationRequested ? ConnectStatus.Aborted : ConnectStatus.TimedOut);
        }
        catch (SocketException e)
        {
            socket.Close();
            ConnectStatus status = e.SocketErrorCode == SocketError.TimedOut ? ConnectStatus.TimedOut : ConnectStatus.Refused;
            return new ConnectResult(status, SocketError: e.SocketErrorCode);
        }
    }
}
