namespace Engine.Transport;

/// <summary>The engine-wide connection ceiling (<c>Limits:MaxConnections</c>), shared by every listener.</summary>
internal sealed class ConnectionCounter(long max)
{
    private long _current;

    public long Current => Interlocked.Read(ref _current);

    public long Max { get; } = max;

    public bool TryAcquire()
    {
        if (Interlocked.Increment(ref _current) <= Max)
        {
            return true;
        }

        Interlocked.Decrement(ref _current);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _current);
}
