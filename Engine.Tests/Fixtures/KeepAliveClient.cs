using System.Net.Sockets;

namespace Engine.Tests.Fixtures;

/// <summary>Whether <c>received</c> holds one whole answer; throws on an answer the caller did not expect.</summary>
internal delegate bool AnswerComplete(ReadOnlySpan<byte> received);

/// <summary>
/// The measuring client of the whole-engine allocation budgets: one keep-alive connection that
/// sends the same request and reads one whole answer, n times, allocating nothing per round.
/// </summary>
internal static class KeepAliveClient
{
    public static async Task RunAsync(Socket socket, byte[] request, byte[] buffer, int n, AnswerComplete complete)
    {
        for (int i = 0; i < n; i++)
        {
            await socket.SendAsync(request.AsMemory(), SocketFlags.None);
            int filled = 0;
            while (true)
            {
                int got = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                if (got == 0)
                {
                    throw new IOException("the proxy closed the connection");
                }

                filled += got;
                if (complete(buffer.AsSpan(0, filled)))
                {
                    break;
                }
            }
        }
    }
}
