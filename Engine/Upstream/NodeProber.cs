using System.Net.Sockets;

namespace Engine.Upstream;

/// <summary>
/// Optional active health check (<c>Routing:ProbeUrl</c>, off by default because probes spend
/// the exits' bandwidth): every interval, each node that live traffic has taken out gets one
/// tunnel opened through it to the probe URL's host and port; if it opens, the node is back
/// before its cool-down ends. Healthy nodes are never probed: their traffic already says so.
/// </summary>
internal sealed class NodeProber : IDisposable
{
    private readonly NodePool _pool;
    private readonly NodeConnector _connector;
    private readonly string _host;
    private readonly int _port;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly ITimer _timer;
    private int _running;

    public NodeProber(NodePool pool, NodeConnector connector, Uri probe, TimeSpan interval, TimeProvider time)
    {
        _pool = pool;
        _connector = connector;
        _host = probe.IdnHost;
        _port = probe.Port;
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

                ConnectResult result = await _connector.ConnectAsync(node, _host, _port, ConnectPurpose.Tunnel, _stop.Token).ConfigureAwait(false);
                using Socket? socket = result.Socket;
                if (result.Status == ConnectStatus.Connected)
                {
                    node.RecordSuccess();
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

    public void Dispose()
    {
        _timer.Dispose();
        _stop.Cancel();
        _stop.Dispose();
    }
}
