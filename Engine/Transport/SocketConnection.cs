using System.Net;

namespace Engine.Transport;

/// <summary>
/// A client socket with its reader and writer: <see cref="SocketReader"/> parses straight from the
/// socket's receive buffer (a zero-byte wait before it takes one), <see cref="SocketWriter"/>
/// sends what the handler flushes. No pipes and no loops between the socket and the handler: one
/// buffer per direction, held only while bytes are in it, as HAProxy does. Nothing thrown by the
/// socket escapes as a socket error: a broken read is a <see cref="ConnectionResetException"/>, a
/// broken write a completed flush.
/// </summary>
internal sealed class SocketConnection : IAsyncDisposable
{
    private readonly TcpSocket _socket;

    public SocketConnection(TcpSocket socket, IPEndPoint remoteEndPoint)
    {
        _socket = socket;
        Input = new SocketReader(socket, client: true);
        Output = new SocketWriter(socket);
        RemoteEndPoint = remoteEndPoint;
    }

    public SocketReader Input { get; }

    public SocketWriter Output { get; }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>What runs on after the handler returned (a tunnel), if it handed something over.</summary>
    public IConnectionTail? Tail { get; private set; }

    /// <summary>Whether the connection took one of the listener's slots (ended with it).</summary>
    internal bool Admitted { get; set; }

    /// <summary>Its neighbours in the listener's list of open connections (guarded by the listener).</summary>
    internal SocketConnection? PreviousActive { get; set; }

    internal SocketConnection? NextActive { get; set; }

    /// <summary>The listener that accepted it: ends it when a handed-over tail calls back.</summary>
    internal SocketListener? Listener { get; set; }

    /// <summary>Called by the handler as it returns: the listener starts <paramref name="tail"/> and ends the connection when it does.</summary>
    public void HandOver(IConnectionTail tail) => Tail = tail;

    /// <summary>
    /// Closes at once: pending reads and writes end. A close-delimited body still going out, or
    /// bytes flushed and not yet sent, are cut with a reset (<see cref="IResetOnClose.ResetIfCut"/>):
    /// after a FIN a short close-delimited body would read as complete.
    /// </summary>
    public void Abort()
    {
        if (Output.ResetIfCut || Output.HoldsUnsentBytes)
        {
            _socket.ResetOnClose();
        }

        _socket.Close();
    }

    public async ValueTask DisposeAsync()
    {
        // The handler is done: send what it wrote, pass the end on as a FIN, then close (whatever
        // the completion met: the descriptor must not outlive the connection).
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
            Input.Complete();
        }
        finally
        {
            _socket.Close();
        }
    }
}
