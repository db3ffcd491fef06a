using System.Buffers;
using System.Diagnostics.Metrics;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Engine.Connection;
using Engine.Diagnostics;
using Engine.Http;
using Engine.Transport;

namespace Engine.Admin;

/// <summary>
/// The admin listener (spec/config.md <c>Admin</c>, docs/admin.md): health, readiness, Prometheus
/// metrics, node and session operations, and the status page, on the engine's own HTTP stack
/// (<see cref="SocketListener"/> + <see cref="HttpRequestParser"/>) rather than ASP.NET. Every
/// endpoint but <c>/</c> and <c>/healthz</c> wants <c>Authorization: Bearer {Admin:Token}</c>.
/// It reads the current <see cref="ProxyServices"/> per request, so a reload that swaps them is
/// seen at once.
/// </summary>
internal sealed partial class AdminServer : IAsyncDisposable
{
    // An operator's tools and one status page: a few connections. The cap keeps a misbehaving
    // scraper from holding more than a sliver of the process's descriptors.
    private const int MaxConnections = 256;
    private const int Backlog = 128;

    // Wrong tokens per client per minute before they are slowed: far beyond a mistyped token, far
    // below a useful guessing rate (a 128-bit token is not guessable at any rate; short
    // operator-chosen tokens are the risk).
    internal const int AuthFailuresPerMinute = 10;

    // Kestrel's KeepAliveTimeout (130 s) is for browsers; admin clients poll every few seconds.
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    // Kestrel's RequestHeadersTimeout: 30 s; admin heads are tiny, so 10 s (the proxy's default).
    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(10);

    // Admin heads are a request line and a few headers; 16 KiB is half Kestrel's 32 KiB.
    private static readonly HttpParserLimits Limits = HttpParserLimits.Default with { MaxRequestHeadBytes = 16 * 1024 };

    private readonly Func<ProxyServices> _services;
    private readonly byte[] _tokenHash;
    private readonly Func<bool> _accepting;
    private readonly PrometheusExporter _exporter;
    private readonly Auth.AuthFailureThrottle _throttle;
    private readonly TimeProvider _time;
    private readonly Func<Upstream.NodeOptions, bool>? _putNode;
    private readonly Microsoft.Extensions.Logging.ILogger? _audit;

    // A node object is a few hundred bytes; 64 KiB bounds what an admin request makes us buffer.
    private const int MaxBodyBytes = 64 * 1024;
    private readonly CancellationTokenSource _stopping = new();
    private SocketListener? _listener;
    private int _stopped;

    /// <param name="services">The current services (a reload swaps them).</param>
    /// <param name="token">The bearer token (<c>Admin:Token</c>); compared in constant time, never logged.</param>
    /// <param name="accepting">Whether the proxy listeners accept (for <c>/readyz</c>); default always.</param>
    /// <param name="meters">Which meters <c>/metrics</c> exports; default every meter named "Engine".</param>
    /// <param name="putNode">Installs a node for <c>PUT /nodes/{id}</c>; null: the endpoint answers 405.</param>
    /// <param name="audit">Where node changes are logged (who changed which node).</param>
    public AdminServer(Func<ProxyServices> services, string token, Func<bool>? accepting = null, Func<Meter, bool>? meters = null, TimeProvider? time = null,
        Func<Upstream.NodeOptions, bool>? putNode = null, Microsoft.Extensions.Logging.ILogger? audit = null)
    {
        _putNode = putNode;
        _audit = audit;
        ArgumentException.ThrowIfNullOrEmpty(token);
        _services = services;
        _tokenHash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        _accepting = accepting ?? (static () => true);
        _time = time ?? TimeProvider.System;
        _throttle = new Auth.AuthFailureThrottle(AuthFailuresPerMinute, _time);
        _exporter = new PrometheusExporter(meters);
    }

    /// <summary>The wrong-token throttle (its table is a metric).</summary>
    internal Auth.AuthFailureThrottle Throttle => _throttle;

    /// <summary>The bound endpoint (the real port when 0 was asked for).</summary>
    public IPEndPoint EndPoint => _listener?.EndPoint ?? throw new InvalidOperationException("The admin server is not started.");

    public void Start(IPEndPoint endPoint)
    {
        if (_listener is not null)
        {
            throw new InvalidOperationException("The admin server is already started.");
        }

        _listener = new SocketListener(endPoint, Backlog, new ConnectionCounter(MaxConnections), connection => new ValueTask(RunAsync(connection)), connection => new ValueTask(RefuseAsync(connection)));
        _listener.Start();
    }

    /// <summary>Stops accepting, lets requests in progress finish (1 s), then closes what is left.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0 || _listener is null)
        {
            return;
        }

        await _listener.StopAcceptingAsync().ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (!await _listener.WaitForConnectionsAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false))
        {
            _listener.AbortAll();
            await _listener.WaitForConnectionsAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _listener?.Dispose();
        _exporter.Dispose();
        _stopping.Dispose();
    }

    private async Task RunAsync(SocketConnection connection)
    {
        var parser = new HttpRequestParser(Limits);
        var head = new RequestHead();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        while (!_stopping.IsCancellationRequested)
        {
            ParseStatus status;
            try
            {
                status = await ReadHeadAsync(connection.Input, parser, head, deadline).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ConnectionResetException or InvalidOperationException)
            {
                return;   // idle, too slow, stopping, or the client went away
            }

            if (status == ParseStatus.Incomplete)
            {
                return;   // closed between requests (or mid-head: nothing to answer)
            }

            AdminResponse response;
            bool keepAlive;
            if (status == ParseStatus.Rejected)
            {
                response = Problem(400, "BAD_REQUEST", "Bad request", "The request is not valid HTTP/1.1 (" + parser.RejectReason + ").", "-");
                keepAlive = false;
            }
            else if (head.Framing == BodyFraming.ContentLength && head.ContentLength is > 0 and <= MaxBodyBytes && head.MethodBytes.SequenceEqual("PUT"u8))
            {
                byte[]? body = await ReadBodyAsync(connection.Input, (int)head.ContentLength, deadline).ConfigureAwait(false);
                if (body is null)
                {
                    return;
                }

                response = await HandleAsync(head, connection.RemoteEndPoint.Address, body).ConfigureAwait(false);
                keepAlive = head.KeepAlive && !response.Close && !_stopping.IsCancellationRequested;
            }
            else if (head.Framing == BodyFraming.Chunked || (head.Framing == BodyFraming.ContentLength && head.ContentLength > 0))
            {
                // No endpoint takes a body; not reading one means the connection cannot continue.
                response = Problem(413, "BODY_NOT_ACCEPTED", "Request body not accepted", $"Only PUT takes a body, with Content-Length up to {MaxBodyBytes} bytes.", Instance(head));
                keepAlive = false;
            }
            else
            {
                response = await HandleAsync(head, connection.RemoteEndPoint.Address).ConfigureAwait(false);
                keepAlive = head.KeepAlive && !response.Close && !_stopping.IsCancellationRequested;
            }

            if (!await WriteAsync(connection.Output, response, keepAlive).ConfigureAwait(false) || !keepAlive)
            {
                return;
            }
        }
    }

    private static async ValueTask<ParseStatus> ReadHeadAsync(PipeReader input, HttpRequestParser parser, RequestHead head, CancellationTokenSource deadline)
    {
        deadline.CancelAfter(IdleTimeout);
        bool started = false;
        while (true)
        {
            ReadResult read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            if (!started && !buffer.IsEmpty)
            {
                started = true;
                deadline.CancelAfter(HeadTimeout);
            }

            var reader = new SequenceReader<byte>(buffer);
            ParseStatus status = parser.ParseHead(ref reader, head);
            if (status != ParseStatus.Incomplete)
            {
                input.AdvanceTo(reader.Position);
                return status;
            }

            input.AdvanceTo(reader.Position, buffer.End);
            if (read.IsCompleted)
            {
                return ParseStatus.Incomplete;
            }
        }
    }

    private static async ValueTask<byte[]?> ReadBodyAsync(PipeReader input, int length, CancellationTokenSource deadline)
    {
        deadline.CancelAfter(HeadTimeout);
        try
        {
            while (true)
            {
                ReadResult read = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                if (read.Buffer.Length >= length)
                {
                    byte[] body = read.Buffer.Slice(0, length).ToArray();
                    input.AdvanceTo(read.Buffer.GetPosition(length));
                    return body;
                }

                input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                if (read.IsCompleted)
                {
                    return null;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionResetException or InvalidOperationException)
        {
            return null;
        }
    }

    private static async Task RefuseAsync(SocketConnection connection)
    {
        AdminResponse response = Problem(503, "OVERLOADED", "Too many admin connections", $"The admin listener serves at most {MaxConnections} connections.", "-", retryAfter: 1);
        await WriteAsync(connection.Output, response, keepAlive: false).ConfigureAwait(false);
    }

    private static async ValueTask<bool> WriteAsync(PipeWriter output, AdminResponse response, bool keepAlive)
    {
        var head = new StringBuilder(256);
        head.Append("HTTP/1.1 ").Append(response.Status).Append(' ').Append(Reason(response.Status)).Append("\r\n");
        if (response.Status != 204)
        {
            if (response.ContentType is not null)
            {
                head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
            }

            head.Append("Content-Length: ").Append(response.Body.Length).Append("\r\n");
        }

        head.Append("Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
        foreach (KeyValuePair<string, string> header in response.Headers)
        {
            head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }

        head.Append(keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
        Encoding.ASCII.GetBytes(head.ToString(), output);
        if (response.Status != 204)
        {
            output.Write(response.Body);
        }

        FlushResult flushed = await output.FlushAsync().ConfigureAwait(false);
        return !flushed.IsCompleted && !flushed.IsCanceled;
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
}
