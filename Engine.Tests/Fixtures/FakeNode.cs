using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Fixtures;

/// <summary>How a <see cref="FakeNode"/> answers the next connections.</summary>
internal enum FakeNodeMode
{
    /// <summary>A working upstream: HTTP CONNECT (or SOCKS5 no-auth CONNECT) to the target, then relay.</summary>
    Ok,
    /// <summary>Accepts and resets at once (RST): the node is broken.</summary>
    Reset,
    /// <summary>Accepts and never answers.</summary>
    Hang,
    /// <summary>HTTP: 407 (our credentials refused). SOCKS5: method 0xFF.</summary>
    AuthRequired,
    /// <summary>HTTP: 502 (the target refused the node). SOCKS5: reply 0x05.</summary>
    TargetRefused,
    /// <summary>SOCKS5: reply 0x07 (command not supported): the node cannot carry the tunnel.</summary>
    CannotCarry,
    /// <summary>Answers bytes that are not its protocol.</summary>
    Garbage,
}

/// <summary>
/// An in-process upstream node (HTTP CONNECT proxy or SOCKS5) whose behaviour a test switches
/// between working and each way of failing, so failover and onerror policies can be driven exactly.
/// Plain-HTTP requests in absolute form are relayed too (HTTP mode), for forwarding tests.
/// </summary>
internal sealed class FakeNode : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly bool _socks;
    private int _connections;

    public FakeNode(bool socks = false)
    {
        _socks = socks;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(256);
        _accept = AcceptAsync();
    }

    public FakeNodeMode Mode { get; set; } = FakeNodeMode.Ok;

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public string Address => "127.0.0.1:" + Port;

    /// <summary>Connections accepted: how many attempts reached this node.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The last request head received (HTTP mode), to check what the engine sent the node.</summary>
    public string LastHead { get; private set; } = string.Empty;

    /// <summary>Every request head received (HTTP mode), in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> Heads { get; } = new();

    /// <summary>HTTP mode: when true for a head, the connection closes without an answer (an exit that died).</summary>
    public Func<string, bool>? DropWhen { get; set; }

    private Task AcceptAsync() => AcceptLoop.RunAsync(_listener, client =>
    {
        Interlocked.Increment(ref _connections);
        _ = Task.Run(() => ServeAsync(client));
    }, _stop.Token);

    private async Task ServeAsync(Socket client)
    {
        using Socket _ = client;
        try
        {
            switch (Mode)
            {
                case FakeNodeMode.Reset:
                    client.LingerState = new LingerOption(true, 0);
                    return;
                case FakeNodeMode.Hang:
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                case FakeNodeMode.Garbage:
                    await client.SendAsync("SSH-2.0-OpenSSH\r\n\r\n"u8.ToArray(), SocketFlags.None);
                    await HoldUntilPeerClosesAsync(client);   // so the engine judges the garbage, not a close
                    return;
            }

            if (_socks)
            {
                await ServeSocksAsync(client);
            }
            else
            {
                await ServeHttpAsync(client);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads and drops what the engine sends until it hangs up (bounded: 10 s, or the node's stop).</summary>
    private async Task HoldUntilPeerClosesAsync(Socket client)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        byte[] sink = new byte[4096];
        while (await client.ReceiveAsync(sink, SocketFlags.None, limit.Token) > 0)
        {
        }
    }

    private async Task ServeHttpAsync(Socket client)
    {
        string head = await ReadHeadAsync(client);
        LastHead = head;
        Heads.Enqueue(head);
        if (DropWhen?.Invoke(head) == true)
        {
            return;
        }
        switch (Mode)
        {
            case FakeNodeMode.AuthRequired:
                await SendAsync(client, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"up\"\r\nContent-Length: 0\r\n\r\n");
                return;
            case FakeNodeMode.TargetRefused:
                await SendAsync(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                return;
        }

        string[] requestLine = head[..head.IndexOf('\r', StringComparison.Ordinal)].Split(' ');
        if (requestLine[0] == "CONNECT")
        {
            int colon = requestLine[1].LastIndexOf(':');
            using Socket target = await ConnectAsync(requestLine[1][..colon], int.Parse(requestLine[1][(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
            await SendAsync(client, "HTTP/1.1 200 Connection established\r\n\r\n");
            await RelayAsync(client, target);
            return;
        }

        // Absolute form: on to the origin in origin form, as a proxy does.
        var uri = new Uri(requestLine[1]);
        using Socket origin = await ConnectAsync(uri.Host, uri.Port);
        // One request per connection keeps the fake simple: the origin is told to close, and so is the engine.
        await SendAsync(origin, requestLine[0] + " " + uri.PathAndQuery + " " + requestLine[2] + "\r\nConnection: close" + head[head.IndexOf('\r', StringComparison.Ordinal)..]);
        using var originStream = new NetworkStream(origin, ownsSocket: false);
        using var clientStream = new NetworkStream(client, ownsSocket: false);
        await originStream.CopyToAsync(clientStream);
    }

    private async Task ServeSocksAsync(Socket client)
    {
        byte[] buffer = new byte[512];
        await ReceiveExactlyAsync(client, buffer.AsMemory(0, 2));
        await ReceiveExactlyAsync(client, buffer.AsMemory(2, buffer[1]));
        if (Mode == FakeNodeMode.AuthRequired)
        {
            await client.SendAsync(new byte[] { 5, 0xFF }, SocketFlags.None);
            return;
        }

        await client.SendAsync(new byte[] { 5, 0 }, SocketFlags.None);
        await ReceiveExactlyAsync(client, buffer.AsMemory(0, 4));
        string host;
        if (buffer[3] == 3)
        {
            await ReceiveExactlyAsync(client, buffer.AsMemory(4, 1));
            await ReceiveExactlyAsync(client, buffer.AsMemory(5, buffer[4]));
            host = Encoding.ASCII.GetString(buffer, 5, buffer[4]);
        }
        else
        {
            await ReceiveExactlyAsync(client, buffer.AsMemory(4, 4));
            host = new IPAddress(buffer.AsSpan(4, 4)).ToString();
        }

        await ReceiveExactlyAsync(client, buffer.AsMemory(0, 2));
        int port = (buffer[0] << 8) | buffer[1];
        byte reply = Mode switch
        {
            FakeNodeMode.TargetRefused => 0x05,
            FakeNodeMode.CannotCarry => 0x07,
            _ => 0x00,
        };
        await client.SendAsync(new byte[] { 5, reply, 0, 1, 127, 0, 0, 1, 0, 0 }, SocketFlags.None);
        if (reply != 0)
        {
            return;
        }

        using Socket target = await ConnectAsync(host, port);
        await RelayAsync(client, target);
    }

    private static async Task<Socket> ConnectAsync(string host, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(host), port);
        return socket;
    }

    private static async Task RelayAsync(Socket a, Socket b)
    {
        using var sa = new NetworkStream(a, ownsSocket: false);
        using var sb = new NetworkStream(b, ownsSocket: false);
        Task up = CopyThenShutdownAsync(sa, b);
        Task down = CopyThenShutdownAsync(sb, a);
        await Task.WhenAll(up, down);

        static async Task CopyThenShutdownAsync(NetworkStream from, Socket to)
        {
            try
            {
                await from.CopyToAsync(new NetworkStream(to, ownsSocket: false));
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (head.Length < 16384 && !head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None) == 0)
            {
                break;
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("closed");
            }

            buffer = buffer[n..];
        }
    }

    private static Task<int> SendAsync(Socket socket, string text) => socket.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        _stop.Dispose();
    }
}
