using System.Net.Sockets;
using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// Active health check of ejected nodes: every <c>Routing:ProbeInterval</c>, each node that live
/// traffic has taken out is tried; if it answers, the node is back before its cool-down ends.
/// With <c>Routing:ProbeUrl</c> the try is a tunnel opened through the node to that URL's host and
/// port (every node type); without it (the default) http and socks5 nodes get a TCP connect to
/// the node itself, which needs no target and costs the exit nothing. Healthy nodes are never
/// probed: their traffic already says so. A probe brings a node back half-open
/// (<see cref="Node.Restore"/>): only a real request's success ends its back-off, so a node
/// that accepts connections but fails requests still has its cool-down doubled.
/// </summary>
internal sealed class NodeProber : IDisposable
{
    private readonly NodePool _pool;
    private readonly NodeConnector _connector;
    private readonly string? _host;
    private readonly int _port;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly ITimer _timer;
    private int _running;

    /// <param name="probe">The target of the tunnel probe; null = TCP connect to http and socks5 nodes.</param>
    public NodeProber(NodePool pool, NodeConnector connector, Uri? probe, TimeSpan interval, TimeProvider time)
    {
        _pool = pool;
        _connector = connector;
        _host = probe?.IdnHost;
        _port = probe?.Port ?? 0;
        _time = time;
        _timer = time.CreateTimer(static state => _ = ((NodeProber)state!).ProbeOnceAsync(), this, interval, interval);
    }

    /// <summary>Probes every node that is out right now; returns how many came back.</summary>
    public async Task<int> ProbeOnceAsync()
    {
        // One round at a time: a slow round must not stack up behind the timer.
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return 0;
        }

        try
        {
            int restored = 0;
            long now = _time.GetTimestamp();
            foreach (Node node in _pool.Nodes)
            {
                if (_stop.IsCancellationRequested)
                {
                    break;
                }

                if (node.Weight == 0 || node.IsAvailable(now))
                {
                    continue;
                }

                if (await ProbeAsync(node).ConfigureAwait(false))
                {
                    node.Restore();
                    restored++;
                }
            }

            return restored;
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private async ValueTask<bool> ProbeAsync(Node node)
    {
        if (_host is null)
        {
            return await _connector.ReachNodeAsync(node, _stop.Token).ConfigureAwait(false);
        }

        ConnectResult result = await _connector.ConnectAsync(node, _host, _port, ConnectPurpose.Tunnel, _stop.Token).ConfigureAwait(false);
        if (result.Socket is not null)
        {
            result.Socket.Close();
        }

        return result.Status == ConnectStatus.Connected;
    }

    public void Dispose()
    {
        _timer.Dispose();
        _stop.Cancel();
        _stop.Dispose();
    }
}
