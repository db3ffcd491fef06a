using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Robustness;

/// <summary>A client that reads a large response slowly must cost the engine bounded memory: backpressure, not buffering.</summary>
[Collection("Serial")]
public sealed class SlowReaderTests
{
    [Theory]
    [InlineData("GET")]
    [InlineData("CONNECT")]
    public async Task SlowReader_OfALargeResponse_KeepsTheHeapFlat(string method)
    {
        await using var origin = new TestOrigin();
        await using var proxy = new ProxyFixture();
        const long Size = 512L * 1024 * 1024;
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 64 * 1024 };
        await socket.ConnectAsync(proxy.EndPoint);
        if (method == "CONNECT")
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{auth}\r\n"), SocketFlags.None);
            byte[] head = new byte[1024];
            int n = await socket.ReceiveAsync(head, SocketFlags.None);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(head, 0, n), StringComparison.Ordinal);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /bytes/{Size} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), SocketFlags.None);
        }
        else
        {
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{origin.Port}/bytes/{Size} HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{auth}Connection: close\r\n\r\n"), SocketFlags.None);
        }

        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        byte[] buffer = new byte[16 * 1024];
        long read = 0;
        // About 1 MB/s for three seconds while the origin could send 512 MB at once. Real time is the
        // point here: the client must be slow while the origin is fast, so the sleeps are the test.
        for (int i = 0; i < 60; i++)
        {
            read += await socket.ReceiveAsync(buffer, SocketFlags.None);
            await Task.Delay(50);
        }

        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.InRange(read, 1, 8L * 1024 * 1024);
        Assert.True(heapAfter - heapBefore < 16L * 1024 * 1024, $"heap grew {(heapAfter - heapBefore) >> 20} MB while the client had read {read >> 10} KB");
    }
}
