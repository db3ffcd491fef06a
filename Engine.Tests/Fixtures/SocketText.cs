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
}
