using System.IO.Pipelines;
using System.Net;
using Engine.Transport;

namespace Engine.Connection;

/// <summary>
/// Connection objects reused from one client to the next, one pool per server. A
/// <see cref="ProxyConnection"/> with its head and header table, head reader and parser, router,
/// admission and (once used) exchange or SOCKS5 handshake is ~2.5 KB before an exchange and ~7 KB
/// with one; made anew per client, that was most of what a short connection allocated (a tunnel,
/// or a <c>Connection: close</c> GET). A connection comes back here when its loop ends — for a
/// tunnel at the handoff, so it serves the next client while the tunnel still runs. The tunnel's
/// own objects (<see cref="TunnelHandoff"/> and its relay) come back when the tunnel ends.
/// </summary>
internal sealed class ConnectionPool(ServicesHandle handle, CancellationToken draining, CancellationToken aborted) : IDisposable
{
    // Free connections only: enough for a burst of short connections to find one each; beyond it
    // the objects are left to the GC so a peak does not stay in memory for good.
    private const int MaxPooled = 1024;
    private readonly BoundedPool<ProxyConnection> _free = new(MaxPooled);
    private readonly BoundedPool<TunnelHandoff> _freeTunnels = new(MaxPooled);

    public ServicesHandle Handle => handle;

    /// <summary>Connection objects waiting for a client.</summary>
    public int Free => _free.Count;

    /// <summary>Tunnel handoffs waiting for a CONNECT.</summary>
    public int FreeTunnels => _freeTunnels.Count;

    /// <summary>Shutdown began: finish the request in flight, accept no further one.</summary>
    public CancellationToken Draining => draining;

    /// <summary>The drain period is over: cut whatever is still running.</summary>
    public CancellationToken Aborted => aborted;

    /// <summary>A connection for this client, reset for it (<see cref="ProxyConnection.Attach"/>).</summary>
    public ProxyConnection Rent(PipeReader input, PipeWriter output, IPEndPoint client, ClientProtocol protocol)
    {
        if (!_free.TryTake(out ProxyConnection? connection))
        {
            connection = new ProxyConnection(this);
        }

        connection.Attach(input, output, client, protocol);
        return connection;
    }

    /// <summary>Takes a connection whose loop has ended and that holds nothing of its client any more.</summary>
    public void Return(ProxyConnection connection)
    {
        if (!_free.TryKeep(connection))
        {
            connection.Dispose();
        }
    }

    /// <summary>A tunnel's handoff and relay, reused from the last tunnel that ended (<see cref="TunnelHandoff"/>).</summary>
    public TunnelHandoff RentTunnel()
    {
        return _freeTunnels.TryTake(out TunnelHandoff? tunnel) ? tunnel : new TunnelHandoff(this);
    }

    /// <summary>Takes a handoff whose tunnel has ended and whose relay nothing touches any more.</summary>
    public void ReturnTunnel(TunnelHandoff tunnel)
    {
        if (!_freeTunnels.TryKeep(tunnel))
        {
            tunnel.Dispose();
        }
    }

    public void Dispose()
    {
        while (_free.TryTake(out ProxyConnection? connection))
        {
            connection.Dispose();
        }

        while (_freeTunnels.TryTake(out TunnelHandoff? tunnel))
        {
            tunnel.Dispose();
        }
    }
}
