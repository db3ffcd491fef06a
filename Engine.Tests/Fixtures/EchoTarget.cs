using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Fixtures;

/// <summary>
/// A loopback TCP target that speaks first (a <see cref="Greeting"/>, as SSH or SMTP servers do, so
/// bytes can arrive right behind a proxy's CONNECT answer) and then echoes everything it receives.
/// </summary>
internal sealed class EchoTarget : IAsyncDisposable
{
    public static readonly byte[] Greeting = Encoding.ASCII.GetBytes("SSH-2.0-echo-target\r\n");

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _connections;

    public EchoTarget()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _accept = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public int Port => EndPoint.Port;

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>A loopback port nothing listens on (bound, then released), so a connect to it is refused.</summary>
    public static int ClosedPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private Task AcceptAsync() => AcceptLoop.RunAsync(_listener, socket =>
    {
        Interlocked.Increment(ref _connections);
        _ = EchoAsync(socket);
    }, _stop.Token);

    private async Task EchoAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                await socket.SendAsync(Greeting, SocketFlags.None, _stop.Token);
                byte[] buffer = new byte[16 * 1024];
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    await socket.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        _stop.Dispose();
    }
}
