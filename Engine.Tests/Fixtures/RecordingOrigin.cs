using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Fixtures;

/// <summary>
/// An origin that records every request it receives (request line, headers, body length) and
/// answers each with a small keep-alive 200: the witness for smuggling tests. A second recorded
/// request where the client sent one is a smuggled request.
/// </summary>
internal sealed class RecordingOrigin : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<Task> _connections = [];

    public RecordingOrigin()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>
    /// Completes when every connection accepted so far has ended (the proxy closed it and everything
    /// it sent was read and recorded): after that no request sent on them can still arrive.
    /// </summary>
    public Task ConnectionsEndedAsync(TimeSpan limit)
    {
        lock (_connections)
        {
            return Task.WhenAll([.. _connections]).WaitAsync(limit);
        }
    }

    public void Clear()
    {
        lock (_requests)
        {
            _requests.Clear();
        }
    }

    private Task AcceptAsync() => AcceptLoop.RunAsync(_listener, client =>
    {
        lock (_connections)
        {
            _connections.Add(Task.Run(() => ServeAsync(client)));
        }
    }, _stop.Token);

    private async Task ServeAsync(Socket client)
    {
        using Socket _ = client;
        using var stream = new NetworkStream(client, ownsSocket: false);
        var reader = new ByteReader(stream);
        try
        {
            for (int i = 0; i < 100; i++)
            {
                string? head = await reader.ReadHeadAsync(_stop.Token);
                if (head is null)
                {
                    return;
                }

                string[] lines = head.Split("\r\n");
                string lower = head.ToLowerInvariant();
                long body;
                if (lower.Contains("\r\ntransfer-encoding:", StringComparison.Ordinal) && lower.Contains("chunked", StringComparison.Ordinal))
                {
                    body = await reader.ReadChunkedAsync(_stop.Token);
                }
                else
                {
                    string? length = lines.Skip(1).FirstOrDefault(l => l.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase));
                    body = length is null ? 0 : long.Parse(length[(length.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    await reader.SkipAsync(body, _stop.Token);
                }

                lock (_requests)
                {
                    _requests.Add(new RecordedRequest(lines[0], lines.Skip(1).Where(l => l.Length > 0).ToArray(), body));
                }

                await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray(), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or FormatException or OverflowException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        _stop.Dispose();
    }

    private sealed class ByteReader(NetworkStream stream)
    {
        private readonly byte[] _one = new byte[1];

        private async Task<int> ReadByteAsync(CancellationToken token) =>
            await stream.ReadAsync(_one, token) == 0 ? -1 : _one[0];

        public async Task<string?> ReadHeadAsync(CancellationToken token)
        {
            var head = new StringBuilder();
            while (head.Length < 65536)
            {
                int b = await ReadByteAsync(token);
                if (b < 0)
                {
                    return null;
                }

                head.Append((char)b);
                if (head.Length >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n')
                {
                    return head.ToString(0, head.Length - 4);
                }
            }

            return null;
        }

        private async Task<string> ReadLineAsync(CancellationToken token)
        {
            var line = new StringBuilder();
            while (line.Length < 4096)
            {
                int b = await ReadByteAsync(token);
                if (b < 0)
                {
                    throw new IOException("closed");
                }

                if (b == '\n' && line.Length > 0 && line[^1] == '\r')
                {
                    return line.ToString(0, line.Length - 1);
                }

                line.Append((char)b);
            }

            throw new IOException("line too long");
        }

        public async Task<long> ReadChunkedAsync(CancellationToken token)
        {
            long total = 0;
            while (true)
            {
                string size = (await ReadLineAsync(token)).Split(';')[0].Trim();
                long chunk = long.Parse(size, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                if (chunk == 0)
                {
                    while ((await ReadLineAsync(token)).Length > 0)
                    {
                    }

                    return total;
                }

                await SkipAsync(chunk, token);
                total += chunk;
                await ReadLineAsync(token);
            }
        }

        public async Task SkipAsync(long count, CancellationToken token)
        {
            for (long i = 0; i < count; i++)
            {
                if (await ReadByteAsync(token) < 0)
                {
                    throw new IOException("closed");
                }
            }
        }
    }
}

/// <summary>One request as the origin saw it.</summary>
internal sealed record RecordedRequest(string RequestLine, string[] Headers, long BodyLength)
{
    public string? Header(string name) =>
        Headers.FirstOrDefault(h => h.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)) is { } line ? line[(name.Length + 1)..].Trim() : null;
}
