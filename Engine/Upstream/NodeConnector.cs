using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Transport;
using Engine.Targets;

namespace Engine.Upstream;

/// <summary>
/// Opens a path to a target through any node type and says who failed: the node (replace it)
/// or the target (answer the client). One deadline, <c>ConnectTimeout</c>, covers the node
/// connect and its handshake.
/// </summary>
internal sealed class NodeConnector : INodeConnector
{
    private readonly DnsCache _dns;
    private readonly TargetPolicy _policy;
    private readonly TimeSpan _connectTimeout;
    private readonly ConnectDeadlines _deadlines = new();
    private readonly DirectConnector[] _direct;
    private readonly Func<AddressFamily, TcpSocket> _openSocket;

    /// <param name="openSocket">Makes the socket for every connect (<see cref="TcpSocket.Create"/>; a test's to run out of descriptors on cue).</param>
    public NodeConnector(NodePool pool, DnsCache dns, TargetPolicy policy, TimeSpan connectTimeout, Func<AddressFamily, TcpSocket>? openSocket = null)
    {
        _dns = dns;
        _policy = policy;
        _connectTimeout = connectTimeout;
        _openSocket = openSocket ?? TcpSocket.Create;
        _direct = new DirectConnector[pool.Count];
        DirectConnector? shared = null;
        foreach (Node node in pool.Nodes)
        {
            if (node.Type == NodeType.Direct)
            {
                _direct[node.Index] = node.LocalAddress is null
                    ? shared ??= new DirectConnector(dns, policy, connectTimeout, openSocket: _openSocket)
                    : new DirectConnector(dns, policy, connectTimeout, node.LocalAddress, _openSocket);
            }
        }
    }

    /// <param name="credentials">A gateway's credentials rendered for this request; default: the node's own.</param>
    public ValueTask<ConnectResult> ConnectAsync(Node node, string host, int port, ConnectPurpose purpose, CancellationToken shutdown, UpstreamCredentials credentials = default)
    {
        if (node.Type == NodeType.Direct)
        {
            return _direct[node.Index].ConnectAsync(host, port, shutdown);
        }

        // The node resolves names itself (in its own country, as residential exits must), so
        // only a literal address can be checked here: never let an upstream be aimed at the
        // engine's own private network or a metadata address.
        if (IPAddress.TryParse(host, out IPAddress? literal) && _policy.CheckAddress(literal, out AddressClass addressClass) != PolicyVerdict.Allowed)
        {
            return ValueTask.FromResult(new ConnectResult(ConnectStatus.Disallowed, Verdict: PolicyVerdict.ForbiddenAddress, AddressClass: addressClass));
        }

        return ThroughProxyAsync(node, host, port, purpose, credentials, shutdown);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ConnectResult> ThroughProxyAsync(Node node, string host, int port, ConnectPurpose purpose, UpstreamCredentials credentials, CancellationToken shutdown)
    {
        CancellationTokenSource deadline = _deadlines.Start(_connectTimeout, shutdown);
        try
        {
            TcpSocket? socket;
            try
            {
                socket = await ConnectToNodeAsync(node, deadline.Token).ConfigureAwait(false);
            }
            catch (SocketException e) when (TcpSocket.IsOutOfSockets(e.SocketErrorCode))
            {
                return new ConnectResult(ConnectStatus.OutOfSockets, SocketError: e.SocketErrorCode);   // ours: the node is not blamed
            }

            if (socket is null)
            {
                return new ConnectResult(shutdown.IsCancellationRequested ? ConnectStatus.Aborted : ConnectStatus.NodeUnavailable);
            }

            try
            {
                if (node.Type == NodeType.Http)
                {
                    if (purpose == ConnectPurpose.Http)
                    {
                        return Keep(ref socket, new ConnectResult(ConnectStatus.Connected, socket));
                    }

                    (ConnectStatus status, NodeAnswer answer, ReadOnlyMemory<byte> early) = await HttpProxyConnector.ConnectAsync(socket, host, port, credentials.Authorization ?? node.ProxyAuthorization, deadline.Token).ConfigureAwait(false);
                    return status == ConnectStatus.Connected ? Keep(ref socket, new ConnectResult(status, socket, Early: early)) : new ConnectResult(status, NodeAnswer: answer);
                }

                ConnectStatus socks = await Socks5Connector.HandshakeAsync(socket, host, port,
                    credentials.IsRendered ? credentials.Username : node.Username, credentials.IsRendered ? credentials.Password : node.Password, deadline.Token).ConfigureAwait(false);
                return socks == ConnectStatus.Connected ? Keep(ref socket, new ConnectResult(socks, socket)) : new ConnectResult(socks);
            }
            catch (OperationCanceledException)
            {
                // The node took the connection but the answer did not come in time: the node or the
                // target behind it is slow, which GATEWAY_TIMEOUT names without blaming either.
                return new ConnectResult(shutdown.IsCancellationRequested ? ConnectStatus.Aborted : ConnectStatus.TimedOut);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                return new ConnectResult(ConnectStatus.NodeUnavailable);
            }
            finally
            {
                if (socket is not null)
                {
                    socket.Close();
                }
            }
        }
        finally
        {
            _deadlines.Return(deadline, shutdown);
        }
    }

    // Hands the socket to the result so the finally above does not close it.
    private static ConnectResult Keep(ref TcpSocket? socket, ConnectResult result)
    {
        socket = null;
        return result;
    }

    /// <summary>
    /// Whether an http or socks5 node accepts a TCP connection at all (the default probe: it
    /// needs no target and spends nothing of the exit's bandwidth). Direct nodes have nothing to reach.
    /// </summary>
    public async ValueTask<bool> ReachNodeAsync(Node node, CancellationToken shutdown)
    {
        if (node.Type == NodeType.Direct)
        {
            return false;
        }

        CancellationTokenSource deadline = _deadlines.Start(_connectTimeout, shutdown);
        try
        {
            TcpSocket? socket;
            try
            {
                socket = await ConnectToNodeAsync(node, deadline.Token).ConfigureAwait(false);
            }
            catch (SocketException e) when (TcpSocket.IsOutOfSockets(e.SocketErrorCode))
            {
                return false;   // nothing learned about the node: it stays as it is until the next round
            }

            if (socket is null)
            {
                return false;
            }

            socket.Close();
            return true;
        }
        finally
        {
            _deadlines.Return(deadline, shutdown);
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<TcpSocket?> ConnectToNodeAsync(Node node, CancellationToken deadline)
    {
        ResolveResult resolved = await _dns.ResolveAsync(node.Host!, deadline).ResumeOnLoop();
        if (resolved.Status != ResolveStatus.Resolved)
        {
            return null;
        }

        foreach (IPAddress address in resolved.Addresses)
        {
            TcpSocket socket;
            try
            {
                socket = _openSocket(address.AddressFamily);
            }
            catch (SocketException e) when (!TcpSocket.IsOutOfSockets(e.SocketErrorCode))
            {
                continue;   // this address family is not available here: the next address (out of sockets goes to the caller)
            }

            try
            {
                await socket.ConnectAsync(address, node.Port, deadline).ConfigureAwait(false);
                return socket;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                socket.Close();
                if (deadline.IsCancellationRequested)
                {
                    return null;
                }
            }
        }

        return null;
    }
}
