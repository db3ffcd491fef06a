using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;

namespace LoadTests;

/// <summary>
/// One keep-alive client connection that sends a fixed request and reads Content-Length framed
/// responses, as wrk does: hand-written bytes so the load generator costs little CPU.
/// </summary>
internal sealed class HttpLoadClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private HttpLoadClient(Socket socket) => _socket = socket;

    public static async Task<HttpLoadClient> ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint, cancellationToken);
        return new HttpLoadClient(socket);
    }

    public Socket Socket => _socket;

    /// <summary>
    /// The catalog code (<c>X-Proxy-Error</c>) of the last response head read, or null when it had
    /// none: a status alone does not say whose words an answer is (a 502 from the origin is not NODE_NOT_FOUND).
    /// </summary>
    public string? ProxyError { get; private set; }

    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> request, CancellationToken cancellationToken) =>
        _socket.SendAsync(request, SocketFlags.None, cancellationToken);

    /// <summary>Reads one response; returns its status and body length, or status 0 when the connection closed.</summary>
    public async Task<(int Status, long BodyBytes)> ReadResponseAsync(CancellationToken cancellationToken)
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                return (0, 0);
            }
        }

        ReadOnlySpan<byte> head = _buffer.AsSpan(_start, headEnd);
        if (head.Length < 12 || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out _))
        {
            status = -1;
        }

        ProxyError = HeaderValue(head, "\r\nx-proxy-error:"u8);

        long length = 0;
        int cl = IndexOfIgnoreCase(head, "\r\ncontent-length:"u8);
        if (cl >= 0)
        {
            ReadOnlySpan<byte> value = head[(cl + 17)..];
            int eol = value.IndexOf("\r\n"u8);
            if (!Utf8Parser.TryParse((eol < 0 ? value : value[..eol]).Trim((byte)' '), out length, out _))
            {
                length = 0;
            }
        }

        _start += headEnd + 4;
        long remaining = length;
        while (remaining > 0)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                return (0, length - remaining);
            }

            int take = (int)Math.Min(remaining, _end - _start);
            _start += take;
            remaining -= take;
        }

        return (status, length);
    }

    /// <summary>Reads until <paramref name="marker"/> ends a response head (for CONNECT's 200).</summary>
    public async Task<int> ReadHeadAsync(CancellationToken cancellationToken)
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await FillAsync(cancellationToken))
            {
                return 0;
            }
        }

        if (headEnd < 12 || !Utf8Parser.TryParse(_buffer.AsSpan(_start + 9, 3), out int status, out _))
        {
            status = -1;
        }

        ProxyError = HeaderValue(_buffer.AsSpan(_start, headEnd), "\r\nx-proxy-error:"u8);
        _start += headEnd + 4;
        return status;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        int n = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += n;
        return n > 0;
    }

    /// <summary>The trimmed value of the first field named by <paramref name="lowerPrefix"/> (<c>\r\nname:</c>), or null.</summary>
    private static string? HeaderValue(ReadOnlySpan<byte> head, ReadOnlySpan<byte> lowerPrefix)
    {
        int at = IndexOfIgnoreCase(head, lowerPrefix);
        if (at < 0)
        {
            return null;
        }

        ReadOnlySpan<byte> value = head[(at + lowerPrefix.Length)..];
        int eol = value.IndexOf("\r\n"u8);
        return System.Text.Encoding.ASCII.GetString((eol < 0 ? value : value[..eol]).Trim((byte)' '));
    }

    private static int IndexOfIgnoreCase(ReadOnlySpan<byte> haystack, ReadOnlySpan<byte> lowerNeedle)
    {
        for (int i = 0; i + lowerNeedle.Length <= haystack.Length; i++)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(haystack.Slice(i, lowerNeedle.Length), lowerNeedle))
            {
                return i;
            }
        }

        return -1;
    }

    public void Dispose() => _socket.Dispose();
}
