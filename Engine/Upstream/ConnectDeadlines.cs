using Engine.Transport;

namespace Engine.Upstream;

/// <summary>
/// The deadline of one connect (name lookup, TCP connect, a node's handshake), linked to shutdown
/// and reused: a linked source with its timer and its registration on the shutdown token, made per
/// connect, was ~300 B of every tunnel's allocation. A source goes back only when its connect
/// ended before the deadline (<see cref="CancellationTokenSource.TryReset"/>, which also drops any
/// registration left on its token); a cancelled one is disposed.
/// </summary>
internal sealed class ConnectDeadlines
{
    // Free sources only: as many as connects run at once in a burst; beyond it they are disposed.
    private const int MaxPooled = 256;
    private readonly BoundedPool<(CancellationToken Shutdown, CancellationTokenSource Source)> _free = new(MaxPooled);

    /// <summary>A source cancelled by <paramref name="shutdown"/> or after <paramref name="timeout"/>; give it back with <see cref="Return"/>.</summary>
    public CancellationTokenSource Start(TimeSpan timeout, CancellationToken shutdown)
    {
        CancellationTokenSource source;
        if (_free.TryTake(out (CancellationToken Shutdown, CancellationTokenSource Source) free) && free.Shutdown == shutdown)
        {
            source = free.Source;
        }
        else
        {
            free.Source?.Dispose();   // linked to another shutdown token
            source = CancellationTokenSource.CreateLinkedTokenSource(shutdown);
        }

        source.CancelAfter(timeout);
        return source;
    }

    /// <summary>The connect is over: nothing holds the source's token any more.</summary>
    public void Return(CancellationTokenSource source, CancellationToken shutdown)
    {
        if (!source.TryReset() || !_free.TryKeep((shutdown, source)))
        {
            source.Dispose();
        }
    }
}
