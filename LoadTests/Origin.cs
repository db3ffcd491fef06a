using System.Buffers;
using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LoadTests;

/// <summary>
/// A minimal keep-alive HTTP/1.1 origin for load runs: <c>/small</c> answers 13 bytes (like the
/// peers' nginx), <c>/bytes/N</c> streams N bytes. It reads request heads only (no bodies).
/// </summary>
internal sealed class Origin : IAsyncDisposable
{
    private static readonly byte[] Small = Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!");

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

    public Origin(IPEndPoint endPoint)
    {
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(endPoint);
        _listener.Listen(4096);
        _accept = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            client.NoDelay = true;
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        byte[] chunk = new byte[64 * 1024];
        int filled = 0;
        try
        {
            while (true)
            {
                int end;
                while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (filled == buffer.Length)
                    {
                        return;
                    }

                    int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    filled += n;
                }

                ReadOnlySpan<byte> head = buffer.AsSpan(0, end);
                int pathStart = head.IndexOf((byte)' ') + 1;
                int pathEnd = pathStart + head[pathStart..].IndexOf((byte)' ');
                ReadOnlySpan<byte> path = head[pathStart..pathEnd];
                const string BytesPrefix = "/bytes/";
                if (path.StartsWith("/bytes/"u8) && Utf8Parser.TryParse(path[BytesPrefix.Length..], out long size, out _))
                {
                    string responseHead = $"HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n";
                    await client.SendAsync(Encoding.ASCII.GetBytes(responseHead), SocketFlags.None, _stop.Token);
                    for (long sent = 0; sent < size;)
                    {
                        int n = (int)Math.Min(chunk.Length, size - sent);
                        await client.SendAsync(chunk.AsMemory(0, n), SocketFlags.None, _stop.Token);
                        sent += n;
                    }
                }
                else
                {
                    await client.SendAsync(Small, SocketFlags.None, _stop.Token);
                }

                int consumed = end + 4;
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            client.Dispose();
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
