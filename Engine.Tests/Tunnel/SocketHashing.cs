using System.Net.Sockets;
using System.Security.Cryptography;

namespace Engine.Tests.Tunnel;

internal static class SocketHashing
{
    /// <summary>Reads until the peer's FIN, hashing everything (SHA-256) without keeping it.</summary>
    public static async Task<(byte[] Hash, long Bytes)> ReceiveUntilEndAsync(Socket socket)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }

        return (hash.GetHashAndReset(), total);
    }
}
