using System.Net.Sockets;

namespace Engine.Tests.Fixtures;

/// <summary>The test servers' accept loop: each connection to <paramref name="serve"/> until <paramref name="stop"/> or the listener closes.</summary>
internal static class AcceptLoop
{
    public static async Task RunAsync(Socket listener, Action<Socket> serve, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stop);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            serve(socket);
        }
    }
}
