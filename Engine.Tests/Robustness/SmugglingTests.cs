using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Robustness;

/// <summary>
/// Request smuggling through the engine to a recording origin. The table follows the
/// defparam/smuggler mutation list (CL.TE, TE.CL, TE.TE obfuscations with whitespace and control
/// bytes around Transfer-Encoding and chunked, duplicated and comma-joined values), CL.0, chunk-size
/// tricks, bare-LF line ends, obs-fold, and absolute-URI vs Host. Every payload must be either
/// rejected with 400 and a closed connection, or forwarded as one normalised request: the origin
/// never sees two requests where the client sent one.
/// </summary>
public sealed class SmugglingTests : IAsyncLifetime
{
    private readonly RecordingOrigin _origin = new();
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture(o => o.PoolUpstream = false);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    /// <summary>Expected: Reject (400/501 and close), One (forwarded once with this body length), or Two (the pipelined control).</summary>
    public static TheoryData<string, string, string, int> Payloads()
    {
        // Connection: close so a forwarded case ends with the connection instead of a keep-alive wait.
        const string H = "POST http://{T}/s HTTP/1.1\r\nHost: {T}\r\n{A}Connection: close\r\n";
        const string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
        var data = new TheoryData<string, string, string, int>
        {
            // CL.TE and TE.CL: both framings present (RFC 9112 §6.1: must be treated as an error by a proxy that forwards).
            { "cl-te", H + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", "Reject", 0 },
            { "te-cl", H + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + smuggled + "\r\n0\r\n\r\n", "Reject", 0 },
            // TE.TE obfuscations.
            { "te-xchunked", H + "Transfer-Encoding: xchunked\r\n\r\n", "Reject", 0 },
            { "te-space-before-colon", H + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-tab-value", H + "Transfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", "One", 0 },
            { "te-vtab-value", H + "Transfer-Encoding:\u000bchunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-formfeed-value", H + "Transfer-Encoding:\u000cchunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-nul-value", H + "Transfer-Encoding: chunked\u0000\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-cr-in-value", H + "Transfer-Encoding: chu\rnked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-trailing-space", H + "Transfer-Encoding: chunked \r\n\r\n0\r\n\r\n", "One", 0 },
            { "te-quoted", H + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", "Reject", 0 },   // 501: an unknown coding
            { "te-uppercase", H + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n", "One", 0 },
            { "te-name-case", H + "transfer-ENCODING: chunked\r\n\r\n0\r\n\r\n", "One", 0 },
            { "te-chunked-identity", H + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", "Reject", 0 },
            // identity is a coding the parser knows (RFC 2616's) and chunked is last (RFC 9112 §6.3 rule 4):
            // one chunked message, forwarded once; the forwarded Transfer-Encoding still ends in chunked.
            { "te-identity-chunked", H + "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", "One", 0 },
            { "te-chunked-chunked", H + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-duplicate-headers", H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", "Reject", 0 },
            // Two field lines are one list, "gzip, chunked" (RFC 9110 §5.3): chunked last, so one chunked
            // message forwarded once (the origin decodes the gzip, not the proxy).
            { "te-duplicate-chunked", H + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "One", 0 },
            { "te-obs-fold", H + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-obs-fold-after", H + "X: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-leading-space-name", H + " Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            { "te-http10", "POST http://{T}/s HTTP/1.0\r\nHost: {T}\r\n{A}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Reject", 0 },
            // Names that CGI/WSGI gateways fold into a framing field (issue 19.9): refused, never forwarded.
            { "te-underscore-name", H + "Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", "Reject", 0 },
            { "cl-underscore-name", H + "Content-Length: 5\r\ncontent_length: 0\r\n\r\nhello", "Reject", 0 },
            { "other-underscore-name", H + "X_Trace_Id: 1\r\nContent-Length: 5\r\n\r\nhello", "One", 5 },
            // Content-Length tricks.
            { "cl-duplicate-different", H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "Reject", 0 },
            { "cl-comma-different", H + "Content-Length: 5, 6\r\n\r\nhello!", "Reject", 0 },
            { "cl-comma-same", H + "Content-Length: 5, 5\r\n\r\nhello", "One", 5 },
            { "cl-plus", H + "Content-Length: +5\r\n\r\nhello", "Reject", 0 },
            { "cl-negative", H + "Content-Length: -1\r\n\r\n", "Reject", 0 },
            { "cl-hex", H + "Content-Length: 0x5\r\n\r\nhello", "Reject", 0 },
            { "cl-space-inside", H + "Content-Length: 1 0\r\n\r\n0123456789", "Reject", 0 },
            { "cl-overflow", H + "Content-Length: 99999999999999999999999\r\n\r\n", "Reject", 0 },
            { "cl-space-before-colon", H + "Content-Length : 5\r\n\r\nhello", "Reject", 0 },
            // CL.0: a body the front end would ignore on a GET.
            { "cl0-get-with-body", "GET http://{T}/s HTTP/1.1\r\nHost: {T}\r\n{A}Connection: close\r\nContent-Length: " + smuggled.Length + "\r\n\r\n" + smuggled, "One", -1 },
            // Chunk-size tricks.
            { "chunk-size-hex-prefix", H + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", "Reject", 0 },
            { "chunk-size-negative", H + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", "Reject", 0 },
            { "chunk-size-overflow", H + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", "Reject", 0 },
            // Whitespace after the size is only BWS before a ";" extension (RFC 9112 §7.1.1): "5 " with none
            // is refused by the forwarder's ChunkedFramingScanner (as llhttp does), never relayed for the
            // origin to read one way and a cache another.
            { "chunk-size-space", H + "Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", "Reject", 0 },
            { "chunk-ext-bare-lf", H + "Transfer-Encoding: chunked\r\n\r\n5;a=b\nhello\r\n0\r\n\r\n", "Reject", 0 },
            { "chunk-missing-crlf", H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n", "Reject", 0 },
            { "chunk-lf-only-terminator", H + "Transfer-Encoding: chunked\r\n\r\n0\n\n" + smuggled, "Reject", 0 },
            // Line ends.
            { "bare-lf-head", "POST http://{T}/s HTTP/1.1\nHost: {T}\n{A}Content-Length: 0\n\n", "Reject", 0 },
            { "bare-cr-head", "POST http://{T}/s HTTP/1.1\rHost: {T}\r\n{A}Content-Length: 0\r\n\r\n", "Reject", 0 },
            // Pipelined second request after a complete one: two requests meant, two forwarded, in order (control case).
            { "pipelined-control", "POST http://{T}/s HTTP/1.1\r\nHost: {T}\r\n{A}Content-Length: 5\r\n\r\nhello" + "GET http://{T}/second HTTP/1.1\r\nHost: {T}\r\n{A}Connection: close\r\n\r\n", "Two", 5 },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Payloads))]
    public async Task Payload_IsRejectedOrForwardedOnce_NeverSmuggled(string name, string template, string expected, int bodyLength)
    {
        string target = $"127.0.0.1:{_origin.Port}";
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        string payload = template.Replace("{T}", target, StringComparison.Ordinal).Replace("{A}", auth, StringComparison.Ordinal);
        if (bodyLength < 0)
        {
            bodyLength = payload.Length - payload.IndexOf("\r\n\r\n", StringComparison.Ordinal) - 4;
        }

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        await socket.SendAsync(Encoding.Latin1.GetBytes(payload), SocketFlags.None);
        (string answer, bool closed) = await ReadAsync(socket, TimeSpan.FromSeconds(2));
        // The engine has closed the client; once it has closed its upstream connections too and
        // the origin read them to the end, a smuggled second request would have been recorded.
        await _origin.ConnectionsEndedAsync(TimeSpan.FromSeconds(10));
        IReadOnlyList<RecordedRequest> seen = _origin.Requests;

        Assert.DoesNotContain(seen, r => r.RequestLine.Contains("smuggled", StringComparison.Ordinal));
        // 400 BAD_REQUEST, or 501 NOT_IMPLEMENTED for a transfer coding the engine does not
        // know (RFC 9112 §6.1): either way refused and closed, nothing forwarded.
        bool rejected = answer.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal) || answer.StartsWith("HTTP/1.1 501 ", StringComparison.Ordinal);
        if (rejected)
        {
            Assert.True(closed, $"{name}: a refusal must close the connection");
            Assert.Matches("X-Proxy-Error: (BAD_REQUEST|NOT_IMPLEMENTED)", answer);
            Assert.Empty(seen);
        }

        switch (expected)
        {
            case "Reject":
                Assert.True(rejected, $"{name}: expected 400, got {FirstLine(answer)}; origin saw {seen.Count}");
                break;
            case "One":
                Assert.False(rejected, $"{name}: expected forwarding, got 400: {Detail(answer)}");
                Assert.Single(seen);
                Assert.Equal(bodyLength, seen[0].BodyLength);
                Assert.Equal(target, seen[0].Header("Host"));
                Assert.True(seen[0].Headers.Count(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) <= 1);
                break;
            case "Two":
                Assert.True(seen.Count == 2, $"{name}: origin saw {seen.Count}; answer: {answer.Replace("\r\n", " | ", StringComparison.Ordinal)}");
                Assert.Equal(bodyLength, seen[0].BodyLength);
                Assert.Contains("/second", seen[1].RequestLine, StringComparison.Ordinal);
                break;
            default:
                Assert.Fail($"{name}: unknown expectation '{expected}': every payload names the one outcome it must have");
                break;
        }

        // Forwarded requests carry exactly one framing header, never both.
        foreach (RecordedRequest request in seen)
        {
            Assert.False(request.Header("Transfer-Encoding") is not null && request.Header("Content-Length") is not null, $"{name}: both framings forwarded");
        }
    }

    [Fact]
    public async Task AbsoluteUriWinsOverHost_TheOriginSeesOneConsistentHost()
    {
        string target = $"127.0.0.1:{_origin.Port}";
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET http://{target}/h HTTP/1.1\r\nHost: evil.example\r\n{auth}Connection: close\r\n\r\n"), SocketFlags.None);
        await ReadAsync(socket, TimeSpan.FromSeconds(2));
        RecordedRequest seen = Assert.Single(_origin.Requests);
        Assert.Equal(target, seen.Header("Host"));
        Assert.Single(seen.Headers, h => h.StartsWith("Host:", StringComparison.OrdinalIgnoreCase));
        Assert.StartsWith("GET /h HTTP/1.1", seen.RequestLine, StringComparison.Ordinal);
    }

    private static string FirstLine(string answer) => answer.Split("\r\n")[0];

    private static string Detail(string answer) =>
        answer.Split("\r\n").FirstOrDefault(l => l.StartsWith("X-Proxy-Detail:", StringComparison.Ordinal)) ?? FirstLine(answer);

    private static async Task<(string Answer, bool Closed)> ReadAsync(Socket socket, TimeSpan limit)
    {
        var all = new MemoryStream();
        byte[] buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                all.Write(buffer, 0, n);
            }

            return (Encoding.Latin1.GetString(all.ToArray()), true);
        }
        catch (OperationCanceledException)
        {
            return (Encoding.Latin1.GetString(all.ToArray()), false);
        }
        catch (SocketException)
        {
            return (Encoding.Latin1.GetString(all.ToArray()), true);
        }
    }
}
