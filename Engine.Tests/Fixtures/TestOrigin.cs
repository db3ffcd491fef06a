using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Engine.Tests.Fixtures;

/// <summary>
/// A scripted HTTP/1.1 origin on 127.0.0.1 for end-to-end tests, optionally over TLS with a
/// self-signed certificate. Routes exercise every framing case a forward proxy must relay:
/// <c>/small</c>, <c>/bytes/N</c>, <c>/chunked</c>, <c>/close</c> (close-delimited), <c>/204</c>, <c>/304</c>,
/// <c>POST /echo</c> (CL or chunked upload; answers the length and SHA-256), <c>/reset</c> (RST mid-body),
/// <c>/hang</c> (never answers), <c>/drop</c> (closes without answering), <c>/headers</c> (echoes the request head it received),
/// <c>/spoof</c> (a 502 carrying the engine's own error fields and a Proxy-Status member of its own).
/// </summary>
internal sealed class TestOrigin : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly X509Certificate2? _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _connections;

    public TestOrigin(bool tls = false)
    {
        _certificate = tls ? CreateCertificate() : null;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        _accept = AcceptAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public int Port => EndPoint.Port;

    /// <summary>Connections accepted so far (to prove keep-alive reuse upstream).</summary>
    public int Connections => Volatile.Read(ref _connections);

    public string LastRequestHead { get; private set; } = string.Empty;

    private static X509Certificate2 CreateCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    private Task AcceptAsync() => AcceptLoop.RunAsync(_listener, socket =>
    {
        Interlocked.Increment(ref _connections);
        _ = ServeAsync(socket);
    }, _stop.Token);

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                Stream stream = new NetworkStream(socket, ownsSocket: false);
                if (_certificate is not null)
                {
                    var ssl = new SslStream(stream);
                    await ssl.AuthenticateAsServerAsync(_certificate);
                    stream = ssl;
                }

                await using (stream)
                {
                    var reader = new LineReader(stream);
                    while (await ServeOneAsync(socket, stream, reader))
                    {
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
            {
            }
        }
    }


    private async Task<bool> ServeOneAsync(Socket socket, Stream stream, LineReader reader)
    {
        string? requestLine = await reader.ReadLineAsync(_stop.Token);
        if (requestLine is null)
        {
            return false;
        }

        var head = new StringBuilder(requestLine).Append("\r\n");
        var headers = new List<(string Name, string Value)>();
        string? line;
        while (!string.IsNullOrEmpty(line = await reader.ReadLineAsync(_stop.Token)))
        {
            head.Append(line).Append("\r\n");
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            headers.Add((line[..colon], line[(colon + 1)..].Trim()));
        }

        LastRequestHead = head.ToString();
        string[] parts = requestLine.Split(' ');
        string method = parts[0], path = parts[1].Split('?')[0];
        string? Header(string name) => headers.FirstOrDefault(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
        bool close = string.Equals(Header("Connection"), "close", StringComparison.OrdinalIgnoreCase);

        if (string.Equals(Header("Expect"), "100-continue", StringComparison.OrdinalIgnoreCase))
        {
            await WriteAsync(stream, "HTTP/1.1 100 Continue\r\n\r\n");
        }

        byte[] body = await ReadBodyAsync(reader, Header("Content-Length"), Header("Transfer-Encoding"));
        string connection = close ? "close" : "keep-alive";

        switch (path)
        {
            case "/small":
                await WriteAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: {connection}\r\n\r\n");
                if (method != "HEAD")
                {
                    await WriteAsync(stream, "Hello, world!");
                }

                break;
            case "/chunked":
                await WriteAsync(stream, $"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nConnection: {connection}\r\n\r\n");
                await WriteAsync(stream, "5;ext=1\r\nHello\r\n7\r\n, chunk\r\n1\r\n!\r\n0\r\nX-Checksum: abc\r\n\r\n");
                break;
            case "/close":
                await WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil the end of the connection");
                return false;
            case "/204":
                await WriteAsync(stream, $"HTTP/1.1 204 No Content\r\nConnection: {connection}\r\n\r\n");
                break;
            case "/304":
                await WriteAsync(stream, $"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 13\r\nConnection: {connection}\r\n\r\n");
                break;
            case "/echo":
                string hash = Convert.ToHexString(SHA256.HashData(body));
                await WriteAsync(stream, $"HTTP/1.1 200 OK\r\nX-Body-Length: {body.Length}\r\nX-Body-Sha256: {hash}\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n");
                break;
            case "/headers":
                byte[] echo = Encoding.Latin1.GetBytes(LastRequestHead);
                await WriteAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Length: {echo.Length}\r\nConnection: {connection}\r\n\r\n");
                await stream.WriteAsync(echo);
                break;
            case "/reset":
                await WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
                await stream.WriteAsync(new byte[1000]);
                await stream.FlushAsync();
                // Let the bytes be read first: an RST makes the peer's kernel drop what is unread.
                // Real time on purpose: nothing tells a sender that the peer's process has read them.
                await Task.Delay(300);
                socket.Linger(0);
                return false;
            case "/spoof":
                // A website that dresses its page up as an engine error (spec/errors.md: never forwarded).
                await WriteAsync(stream, "HTTP/1.1 502 Bad Gateway\r\nX-Proxy-Error: NODE_UNAVAILABLE\r\nX-Proxy-Detail: spoofed\r\n"
                    + "x-proxy-correlation-id: 000000000000000000\r\nProxy-Status: origin-cdn; error=destination_unavailable\r\n"
                    + $"Content-Length: 7\r\nConnection: {connection}\r\n\r\nspoofed");
                break;
            case "/503":
                // A website's own error page, with no proxy error signal: relayed untouched through any node.
                await WriteAsync(stream, $"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 5\r\nConnection: {connection}\r\n\r\nbusy!");
                break;
            case "/drop":
                return false;
            case "/bad-head":
                await WriteAsync(stream, "HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n");
                await stream.FlushAsync();
                return false;
            case "/then-close":
                // Says keep-alive, then closes anyway: what a server timing out an idle connection does.
                await WriteAsync(stream, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                await stream.FlushAsync();
                return false;
            case "/hang":
                await Task.Delay(Timeout.Infinite, _stop.Token);
                return false;
            default:
                if (path.StartsWith("/bytes/", StringComparison.Ordinal))
                {
                    long size = long.Parse(path["/bytes/".Length..], CultureInfo.InvariantCulture);
                    await WriteAsync(stream, $"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\nConnection: {connection}\r\n\r\n");
                    if (method != "HEAD")
                    {
                        await PatternStream.WriteAsync(stream, size, _stop.Token);
                    }

                    break;
                }

                await WriteAsync(stream, $"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: {connection}\r\n\r\n");
                break;
        }

        await stream.FlushAsync();
        return !close;
    }

    private async Task<byte[]> ReadBodyAsync(LineReader reader, string? contentLength, string? transferEncoding)
    {
        if (transferEncoding is not null && transferEncoding.EndsWith("chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var body = new MemoryStream();
            while (true)
            {
                string sizeLine = (await reader.ReadLineAsync(_stop.Token))!;
                int semicolon = sizeLine.IndexOf(';', StringComparison.Ordinal);
                int size = int.Parse(semicolon < 0 ? sizeLine : sizeLine[..semicolon], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    while (!string.IsNullOrEmpty(await reader.ReadLineAsync(_stop.Token)))
                    {
                    }

                    return body.ToArray();
                }

                body.Write(await reader.ReadExactlyAsync(size, _stop.Token));
                await reader.ReadLineAsync(_stop.Token);
            }
        }

        return contentLength is null ? [] : await reader.ReadExactlyAsync(int.Parse(contentLength, CultureInfo.InvariantCulture), _stop.Token);
    }

    private static Task WriteAsync(Stream stream, string text) => stream.WriteAsync(Encoding.Latin1.GetBytes(text)).AsTask();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        _certificate?.Dispose();
        _stop.Dispose();
    }
}

internal static class SocketExtensions
{
    /// <summary>Linger 0 makes the close an RST.</summary>
    public static void Linger(this Socket socket, int seconds)
    {
        socket.LingerState = new LingerOption(true, seconds);
        socket.Close();
    }
}

/// <summary>Deterministic bytes (i mod 251) so a receiver can verify a large body without storing it.</summary>
internal static class PatternStream
{
    public static async Task WriteAsync(Stream stream, long size, CancellationToken cancellationToken)
    {
        byte[] chunk = new byte[251 * 256];
        for (int i = 0; i < chunk.Length; i++)
        {
            chunk[i] = (byte)(i % 251);
        }

        for (long sent = 0; sent < size;)
        {
            int n = (int)Math.Min(chunk.Length, size - sent);
            await stream.WriteAsync(chunk.AsMemory(0, n), cancellationToken);
            sent += n;
        }
    }
}

/// <summary>Buffered CRLF line reader that can also hand out exact byte counts (bodies).</summary>
internal sealed class LineReader(Stream stream)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                int length = lf - _start;
                string line = Encoding.Latin1.GetString(_buffer, _start, length > 0 && _buffer[lf - 1] == '\r' ? length - 1 : length);
                _start = lf + 1;
                return line;
            }

            if (!await FillAsync(cancellationToken))
            {
                return null;
            }
        }
    }

    public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        byte[] result = new byte[count];
        int got = 0;
        while (got < count)
        {
            if (_start == _end && !await FillAsync(cancellationToken))
            {
                throw new IOException("body truncated");
            }

            int take = Math.Min(count - got, _end - _start);
            Array.Copy(_buffer, _start, result, got, take);
            _start += take;
            got += take;
        }

        return result;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new IOException("line too long");
        }

        int n = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        _end += n;
        return n > 0;
    }
}
