namespace Engine.Connection;

/// <summary>
/// The configuration in force, swapped whole by a reload. A connection takes the current one at the
/// start of each request, so a request sees one consistent configuration from start to end and the
/// next request on the same keep-alive connection sees the new one.
/// </summary>
internal sealed class ServicesHandle(ProxyServices initial)
{
    private ProxyServices _current = initial;

    public ProxyServices Current => Volatile.Read(ref _current);

    /// <summary>Installs <paramref name="next"/>; returns the one it replaced.</summary>
    public ProxyServices Swap(ProxyServices next) => Interlocked.Exchange(ref _current, next);
}
