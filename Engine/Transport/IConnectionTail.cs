namespace Engine.Transport;

/// <summary>
/// Work that outlives its handler's task on a client connection: a tunnel after its 200. The
/// handler hands it over (<see cref="SocketConnection.HandOver"/>) and returns; the listener starts
/// it and ends the connection (close, slot, drain count) when it calls back. Nothing waits on it
/// in between, so a held tunnel keeps no suspended async frames (the listener's, the server's and
/// the tunnel's own were ~530 B of every idle tunnel, gcdump of 4,000 held).
/// </summary>
internal interface IConnectionTail
{
    /// <summary>Runs to its end, then calls <paramref name="ended"/>(<paramref name="state"/>) exactly once, on whatever thread ended it; never throws.</summary>
    void Start(Action<object?> ended, object? state);
}
