using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Fixtures;

/// <summary>Reading a raw socket's answer as ASCII text, bounded in time.</summary>
internal static class SocketText
{
    /// <summary>Reads until the text received ends with <paramref name="until"/> (null: until the peer closes), at most 10 s.</summary>
    public static async Task<string> ReceiveUntilAsync(Socket socket, string? until)
    {
        var received = new StringBuilder();
        byte[] buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (until is null || !received.ToString().EndsWith(until, StringComparison.Ordinal))
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return received.ToString();
    }

    /// <summary>
    /// One receive that reports how the stream ended: the bytes read, 0 for a FIN, −1 for a reset
    /// (the engine ends a stream it cut with one: docs/errors.md, "How a cut ends").
    /// </summary>
    public static async ValueTask<int> ReceiveOrResetAsync(Socket socket, Memory<byte> buffer, CancellationToken token = default)
    {
        try
        {
            return await socket.ReceiveAsync(buffer, SocketFlags.None, token);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return -1;
        }
    }

    /// <summary>Reads to the end of the stream, at most 20 s: the text, and whether the end was a reset rather than a FIN.</summary>
    public static async Task<(string Text, bool Reset)> ReceiveToEndOrResetAsync(Socket socket)
    {
        var received = new StringBuilder();
        byte[] buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        int n;
        while ((n = await ReceiveOrResetAsync(socket, buffer, timeout.Token)) > 0)
        {
            received.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }

        return (received.ToString(), n < 0);
    }
}
