using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Fixtures;

/// <summary>A raw-socket origin whose every connection runs a script (connection index, socket).</summary>
internal sealed class ScriptedOrigin : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly Func<int, Socket, CancellationToken, Task> _script;
    private int _connections;
    private readonly StringBuilder _received = new();

    public ScriptedOrigin(Func<int, Socket, CancellationToken, Task> script)
    {
        _script = script;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Everything any connection read through <see cref="ReadHeadAsync"/> or <see cref="ReadAllAsync"/>.</summary>
    public string Received
    {
        get
        {
            lock (_received)
            {
                return _received.ToString();
            }
        }
    }

    private Task AcceptAsync() => AcceptLoop.RunAsync(_listener, socket =>
    {
        int index = Interlocked.Increment(ref _connections) - 1;
        _ = Task.Run(async () =>
        {
            using (socket)
            {
                try
                {
                    await _script(index, socket, _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
                {
                }
            }
        });
    }, _stop.Token);

    /// <summary>Reads one request head byte by byte (nothing behind it is consumed), recorded in <see cref="Received"/>.</summary>
    public Task<string?> ReadHeadAsync(Socket socket, CancellationToken token) =>
        ReadRequestHeadAsync(socket, token, c =>
        {
            lock (_received)
            {
                _received.Append(c);
            }
        });

    /// <summary>Reads one request head byte by byte (nothing behind it is consumed); <paramref name="seen"/> gets each byte.</summary>
    public static async Task<string?> ReadRequestHeadAsync(Socket socket, CancellationToken token, Action<char>? seen = null)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, token) == 0)
            {
                return null;
            }

            head.Append((char)one[0]);
            seen?.Invoke((char)one[0]);
        }

        return head.ToString();
    }

    /// <summary>Records whatever arrives until the peer closes or <paramref name="limit"/> passes.</summary>
    public async Task ReadAllAsync(Socket socket, TimeSpan limit, CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(limit);
        byte[] buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                lock (_received)
                {
                    _received.Append(Encoding.Latin1.GetString(buffer, 0, n));
                }
            }
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
        }
    }

    public static Task SendAsync(Socket socket, string text, CancellationToken token) =>
        socket.SendAsync(Encoding.Latin1.GetBytes(text), SocketFlags.None, token).AsTask();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        _stop.Dispose();
    }
}
