using System.Net;
using System.Net.Sockets;

namespace Engine.Tests.Fixtures;

/// <summary>Serves fixed response bytes to one HttpClient request over 127.0.0.1, so a real client parses them.</summary>
internal static class LoopbackServer
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    public static async Task<(HttpResponseMessage Response, byte[] Body)> GetAsync(byte[] response)
    {
        using var cts = new CancellationTokenSource(s_timeout);
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            Task server = ServeOnceAsync(listener, response, cts.Token);

            using var handler = new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false };
            using var client = new HttpClient(handler) { Timeout = s_timeout };
            HttpResponseMessage message = await client.GetAsync(new Uri($"http://127.0.0.1:{port}/probe"), cts.Token);
            byte[] body = await message.Content.ReadAsByteArrayAsync(cts.Token);
            await server;
            return (message, body);
        }
        finally
        {
            listener.Stop();
        }
    }

    private static async Task ServeOnceAsync(TcpListener listener, byte[] response, CancellationToken cancellationToken)
    {
        using Socket socket = await listener.AcceptSocketAsync(cancellationToken);
        var buffer = new byte[8192];
        int received = 0;

        // Read the request head (bounded by the buffer) before answering, as a server would.
        while (buffer.AsSpan(0, received).IndexOf("\r\n\r\n"u8) < 0)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, cancellationToken);
            if (n == 0 || (received += n) == buffer.Length)
            {
                throw new InvalidOperationException("request head not received");
            }
        }

        await socket.SendAsync(response, SocketFlags.None, cancellationToken);
        socket.Shutdown(SocketShutdown.Send);
    }
}
