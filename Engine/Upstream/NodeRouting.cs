using Engine.Sessions;

namespace Engine.Upstream;

/// <summary>Everything a connection needs to turn rules into a working path: the pool, the connectors, the sessions.</summary>
internal sealed class NodeRouting : IDisposable
{
    // Expired sessions and lapsed domain bans are dropped by one sweep, not a timer each: 30 s
    // keeps memory bounded while costing one pass per half minute.
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private readonly ITimer _sweep;
    private readonly TimeProvider _time;

    public NodeRouting(NodePool pool, INodeConnector connector, ISessionStore sessions, int maxAttempts, TimeProvider time, NodeProber? prober = null)
    {
        Prober = prober;
        Pool = pool;
        Connector = connector;
        Sessions = sessions;
        MaxAttempts = Math.Max(1, maxAttempts);
        _time = time;
        _sweep = time.CreateTimer(static state => ((NodeRouting)state!).Sweep(), this, SweepInterval, SweepInterval);
    }

    public NodePool Pool { get; }

    public INodeConnector Connector { get; }

    public ISessionStore Sessions { get; }

    /// <summary>Nodes one request may try (failover without a session, <c>onerror-replace</c>).</summary>
    public int MaxAttempts { get; }

    /// <summary>The optional active probe of ejected nodes; null when <c>Routing:ProbeUrl</c> is not set.</summary>
    public NodeProber? Prober { get; }

    public void Sweep()
    {
        Sessions.Sweep();
        Pool.Bans.Sweep(_time.GetTimestamp());
    }

    public void Dispose()
    {
        _sweep.Dispose();
        Prober?.Dispose();
    }
}
