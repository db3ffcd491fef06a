using System.Net.Sockets;

namespace Engine.Transport;

/// <summary>One place that decides which socket errors are just the peer going away.</summary>
internal static class SocketErrors
{
    /// <summary>Reset, aborted or shut down by the peer or by our own disposal: normal end of a connection.</summary>
    public static bool IsConnectionEnd(SocketError error) => error is
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown
        or SocketError.OperationAborted or SocketError.Interrupted or SocketError.NotConnected
        or SocketError.Disconnecting;
}
