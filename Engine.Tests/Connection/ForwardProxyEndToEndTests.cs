using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Connection;

/// <summary>Real clients (HttpClient with a WebProxy, raw sockets) through the proxy to a real origin.</summary>
public sealed class ForwardProxyEndToEndTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly TestOrigin _origin = new();
    private ProxyFixture _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new ProxyFixture();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    private HttpClient Client(string user = "country-us", string? key = ProxyFixture.Key, bool tls = false)
    {
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy(_proxy.Uri) { Credentials = key is null ? null : new NetworkCredential(user, key) },
            UseProxy = true,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        };
        if (tls)
        {
            // The test origin's certificate is self-signed for localhost/127.0.0.1: trust it by name.
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.Subject == "CN=localhost";
        }

        return new HttpClient(handler) { Timeout = Timeout };
    }

    private string OriginUrl(string path) => $"http://127.0.0.1:{_origin.Port}{path}";

    // spec/errors.md: a website must not be able to make its page look like an engine error.
    [Fact]
    public async Task Get_OriginSpoofsEngineErrorFields_ClientSeesTheTargetsAnswerWithoutThem()
    {
        using HttpClient client = Client();
        using HttpResponseMessage response = await client.GetAsync(OriginUrl("/spoof"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("spoofed", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("X-Proxy-Error"));
        Assert.False(response.Headers.Contains("X-Proxy-Detail"));
        Assert.False(response.Headers.Contains("X-Proxy-Correlation-Id"));
        string proxyStatus = string.Join(", ", response.Headers.GetValues("Proxy-Status"));
        Assert.Equal($"origin-cdn; error=destination_unavailable, engine; next-hop=\"127.0.0.1\"; received-status=502", proxyStatus);

        // The first line is the 407 that HttpClient always meets before it sends credentials.
        string[] log = await _proxy.LogLinesAsync(2);
        Assert.Contains(log, l => l.Contains(" status=502 code=- ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_ThroughProxy_ReturnsOriginResponseWithoutEngineError()
    {
        using HttpClient client = Client();
        using HttpResponseMessage response = await client.GetAsync(OriginUrl("/small"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Hello, world!", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("X-Proxy-Error"));
        Assert.Contains("engine", response.Headers.Via.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_OriginSeesOriginFormAndNoProxyCredentials()
    {
        using HttpClient client = Client();
        string head = await client.GetStringAsync(OriginUrl("/headers?q=1#frag"));

        Assert.StartsWith("GET /headers?q=1 HTTP/1.1\r\n", head, StringComparison.Ordinal);
        Assert.Contains($"Host: 127.0.0.1:{_origin.Port}\r\n", head, StringComparison.Ordinal);
        Assert.DoesNotContain("Proxy-Authorization", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Proxy-Connection", head, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Get_WithoutCredentials_Gets407ThenClientRetriesWithCredentials()
    {
        // HttpClient sends credentials only after a 407 challenge: this passes only if the 407
        // carries Proxy-Authenticate and the exchange completes.
        using HttpClient client = Client();
        using HttpResponseMessage response = await client.GetAsync(OriginUrl("/small"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        string[] log = await _proxy.LogLinesAsync(2);
        Assert.Contains(log, l => l.Contains("status=407 code=ERR_AUTH_REQUIRED", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("status=200", StringComparison.Ordinal) && l.Contains("pkg=demo", StringComparison.Ordinal));
        Assert.DoesNotContain(log, l => l.Contains(ProxyFixture.Key, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/chunked", "Hello, chunk!")]
    [InlineData("/close", "until the end of the connection")]
    public async Task Get_ChunkedAndCloseDelimitedBodies_AreRelayed(string path, string expected)
    {
        using HttpClient client = Client();
        Assert.Equal(expected, await client.GetStringAsync(OriginUrl(path)));
    }

    [Theory]
    [InlineData("/204", HttpStatusCode.NoContent)]
    [InlineData("/304", HttpStatusCode.NotModified)]
    public async Task Get_BodylessStatuses_KeepTheConnectionUsable(string path, HttpStatusCode expected)
    {
        using HttpClient client = Client();
        using (HttpResponseMessage first = await client.GetAsync(OriginUrl(path)))
        {
            Assert.Equal(expected, first.StatusCode);
        }

        Assert.Equal("Hello, world!", await client.GetStringAsync(OriginUrl("/small")));
    }

    [Fact]
    public async Task Get_KeepAlive_ReusesOneUpstreamConnection()
    {
        using HttpClient client = Client();
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("Hello, world!", await client.GetStringAsync(OriginUrl("/small")));
        }

        Assert.Equal(1, _origin.Connections);
    }

    [Fact]
    public async Task Get_UpstreamClosedAPooledConnection_NextRequestStillSucceeds()
    {
        using HttpClient client = Client();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("ok", await client.GetStringAsync(OriginUrl("/then-close")));
            Assert.Equal("Hello, world!", await client.GetStringAsync(OriginUrl("/small")));
        }

        string[] log = await _proxy.LogLinesAsync(10);
        Assert.DoesNotContain(log, l => l.Contains("code=TARGET_RESET", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Head_ReturnsHeadersOnly()
    {
        using HttpClient client = Client();
        using var request = new HttpRequestMessage(HttpMethod.Head, OriginUrl("/small"));
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal(13, response.Content.Headers.ContentLength);
        Assert.Equal("Hello, world!", await client.GetStringAsync(OriginUrl("/small")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Post_ContentLengthAndChunkedUploads_ArriveIntact(bool chunked)
    {
        byte[] body = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        using HttpClient client = Client();
        // A streamed body cannot be sent twice, so send the credentials up front instead of
        // waiting for the 407 challenge (after which the proxy closes: the body was unread).
        client.DefaultRequestHeaders.ProxyAuthorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)));
        HttpContent content = chunked ? new StreamContent(new NonSeekableStream(body)) : new ByteArrayContent(body);
        using HttpResponseMessage response = await client.PostAsync(OriginUrl("/echo"), content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("X-Body-Length").Single());
        Assert.Equal(Convert.ToHexString(SHA256.HashData(body)), response.Headers.GetValues("X-Body-Sha256").Single());
    }

    [Fact]
    public async Task Post_ExpectContinue_IsHonoured()
    {
        using HttpClient client = Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, OriginUrl("/echo")) { Content = new StringContent("payload") };
        request.Headers.ExpectContinue = true;
        using HttpResponseMessage response = await client.SendAsync(request);
        Assert.Equal("7", response.Headers.GetValues("X-Body-Length").Single());
    }

    [Fact]
    public async Task Pipelined_Requests_AreAnsweredInOrder()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        string one = $"GET {OriginUrl("/small")} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n";
        string two = $"GET {OriginUrl("/204")} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(one + two + one), SocketFlags.None);
        string all = await ReadToEndAsync(socket);

        Assert.Equal(2, all.Split("HTTP/1.1 ").Length - 1);
        Assert.True(all.IndexOf("200 OK", StringComparison.Ordinal) < all.IndexOf("204 No Content", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connect_HttpsThroughTunnel_Works()
    {
        await using var tlsOrigin = new TestOrigin(tls: true);
        using (HttpClient client = Client(tls: true))
        {
            string body = await client.GetStringAsync($"https://127.0.0.1:{tlsOrigin.Port}/small");
            Assert.Equal("Hello, world!", body);
        }

        // The tunnel's log line is written when the tunnel ends: disposing the client ends it.

        string[] log = await _proxy.LogLinesAsync(2);
        Assert.Contains(log, l => l.Contains("method=CONNECT", StringComparison.Ordinal) && l.Contains("status=200", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connect_ReplyNamesTheNode_AndEarlyDataIsRelayed()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        // The request rides right behind the CONNECT head, before the 200 was seen.
        string connect = $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n{auth}\r\n";
        string get = "GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(connect + get), SocketFlags.None);
        string all = await ReadToEndAsync(socket);

        Assert.StartsWith("HTTP/1.1 200 Connection established\r\nX-Proxy-Node: local\r\n\r\n", all, StringComparison.Ordinal);
        Assert.EndsWith("Hello, world!", all, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, int, string> ErrorCases => new()
    {
        // user:key, target, expected status, CODE
        { "country-us:wrong-key", "/small", 407, "AUTH_FAILED" },
        { "x:paused-key", "/small", 407, "PACKAGE_PAUSED" },
        { "x:suspended-key", "/small", 407, "PACKAGE_SUSPENDED" },
        { "x:elsewhere-key", "/small", 407, "IP_NOT_ALLOWED" },
        { "x:tunnels-key", "/small", 403, "DISALLOWED" },
        { "country-us:" + ProxyFixture.Key, "/hang", 504, "GATEWAY_TIMEOUT" },
        { "country-us:" + ProxyFixture.Key, "/drop", 502, "TARGET_RESET" },
        { "country-us:" + ProxyFixture.Key, "/bad-head", 557, "RESPONSE_ERROR" },
    };

    [Theory]
    [MemberData(nameof(ErrorCases))]
    public async Task Errors_AreCatalogResponses(string userKey, string path, int status, string code)
    {
        await using var proxy = new ProxyFixture(o => o.Limits = o.Limits with { ResponseHeadTimeout = TimeSpan.FromMilliseconds(500) });
        (int got, Dictionary<string, string> headers, JsonElement body) = await RawErrorAsync(proxy, "GET", OriginUrl(path), userKey);
        AssertCatalog(got, headers, body, status, code);
    }

    [Fact]
    public async Task Errors_TargetConnectFailed_NameNotResolved_Disallowed_WrongUrl()
    {
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var proxy = new ProxyFixture(o =>
        {
            o.AllowPrivateTargets = false;
            o.AllowedConnectPorts = [443];
            o.BlockedDomains = ["blocked.test"];
            o.Resolve = (host, _) => host switch
            {
                "rebind.test" => Task.FromResult(new[] { IPAddress.Loopback }),
                "public.test" => Task.FromResult(new[] { IPAddress.Parse("192.0.2.1") }),
                _ => throw new SocketException((int)SocketError.HostNotFound),
            };
        });
        string user = "country-us:" + ProxyFixture.Key;

        var r = await RawErrorAsync(proxy, "GET", "http://nope.invalid/", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 502, "NAME_NOT_RESOLVED");
        r = await RawErrorAsync(proxy, "GET", "http://rebind.test/", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 403, "DISALLOWED");
        Assert.Contains("loopback", r.Headers["X-Proxy-Detail"], StringComparison.Ordinal);
        r = await RawErrorAsync(proxy, "GET", $"http://[::ffff:127.0.0.1]:{closedPort}/", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 403, "DISALLOWED");
        r = await RawErrorAsync(proxy, "GET", "http://www.blocked.test/", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 403, "DISALLOWED");
        r = await RawErrorAsync(proxy, "CONNECT", "public.test:22", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 403, "DISALLOWED");
        Assert.Contains("port 22", r.Headers["X-Proxy-Detail"], StringComparison.Ordinal);
        r = await RawErrorAsync(proxy, "GET", "/index.html", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 557, "WRONG_URL");

        await using var open = new ProxyFixture();
        r = await RawErrorAsync(open, "GET", $"http://127.0.0.1:{closedPort}/", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 502, "TARGET_CONNECT_FAILED");
        r = await RawErrorAsync(open, "CONNECT", $"127.0.0.1:{closedPort}", user);
        AssertCatalog(r.Status, r.Headers, r.Body, 502, "TARGET_CONNECT_FAILED");
    }

    [Fact]
    public async Task TargetResetMidBody_ClosesTheClient_AndTheLogSaysTargetDuringData()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {OriginUrl("/reset")} HTTP/1.1\r\nHost: x\r\n{auth}\r\n"), SocketFlags.None);

        // The head (Content-Length: 100000) was relayed, then the target reset after 1000 bytes:
        // the only honest signal left is to close the client connection early; the Content-Length
        // makes the cut visible, so a FIN behind every byte relayed (a reset is for close-delimited bodies).
        string all;
        bool reset;
        try
        {
            (all, reset) = await SocketText.ReceiveToEndOrResetAsync(socket);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("client not closed; log: " + string.Join(" | ", await _proxy.LogLinesAsync(1)));
            throw;
        }

        Assert.StartsWith("HTTP/1.1 200 OK", all, StringComparison.Ordinal);
        int body = all.Length - all.IndexOf("\r\n\r\n", StringComparison.Ordinal) - 4;
        Assert.True(body < 100_000, $"body {body}");
        Assert.False(reset, "a short Content-Length body needs no reset");
        Assert.DoesNotContain("X-Proxy-Error", all, StringComparison.Ordinal);

        string[] log = await _proxy.LogLinesAsync(1);
        Assert.Contains(log, l => l.Contains("target=" + OriginUrl("/reset"), StringComparison.Ordinal) && l.EndsWith("ts=SD", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Errors_MalformedRequest_Is400AndCloses()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"), SocketFlags.None);
        string all = await ReadToEndAsync(socket);   // returns only because the proxy closes
        Assert.StartsWith("HTTP/1.1 400 ", all, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Error: BAD_REQUEST\r\n", all, StringComparison.Ordinal);
        Assert.Contains("Connection: close\r\n", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Slowloris_HeadDeadlineIsNotExtendedByTrickledBytes()
    {
        await using var proxy = new ProxyFixture(o => o.Limits = o.Limits with { RequestHeadTimeout = TimeSpan.FromMilliseconds(600) });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy.EndPoint);
        var started = System.Diagnostics.Stopwatch.StartNew();
        byte[] head = Encoding.ASCII.GetBytes("GET http://a/ HTTP/1.1\r\nHost: a\r\nX-Slow: ");
        foreach (byte b in head.Concat(Enumerable.Repeat((byte)'x', 40)))
        {
            try
            {
                await socket.SendAsync(new[] { b }, SocketFlags.None);
            }
            catch (SocketException)
            {
                break;
            }

            await Task.Delay(50);   // real time is the point: one byte per 50 ms against a 600 ms head deadline
            if (started.Elapsed > TimeSpan.FromSeconds(10))
            {
                break;
            }
        }

        string all = await ReadToEndAsync(socket);
        Assert.Contains("X-Proxy-Error: REQUEST_TIMEOUT\r\n", all, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(5), $"took {started.Elapsed}");
    }

    private static void AssertCatalog(int status, Dictionary<string, string> headers, JsonElement body, int expectedStatus, string code)
    {
        Assert.Equal(expectedStatus, status);
        Assert.Equal(code, headers["X-Proxy-Error"]);
        Assert.StartsWith("engine; error=", headers["Proxy-Status"], StringComparison.Ordinal);
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.Equal(expectedStatus, body.GetProperty("status").GetInt32());
        Assert.Equal(headers["X-Proxy-Correlation-Id"], body.GetProperty("correlationId").GetString());
        Assert.Equal(expectedStatus == 407, headers.ContainsKey("Proxy-Authenticate"));
    }

    // malformed.md #12 and "heads get 431": a client's broken chunked body is answered as the head parser answers
    // the same fault (RejectReasons), and the connection closes.
    [Theory]
    [InlineData("zz\r\n", 400, "BAD_REQUEST", "Invalid chunk size (RFC 9112 7.1)")]
    [InlineData("5\r\nhello\r\n0x5\r\n", 400, "BAD_REQUEST", "Invalid chunk size (RFC 9112 7.1)")]
    [InlineData("5\r\nhelloXX", 400, "BAD_REQUEST", "Chunk data not followed by CRLF (RFC 9112 7.1)")]
    [InlineData("0\r\nX-Big: {big}\r\n\r\n", 431, "HEADERS_TOO_LARGE", "Trailer section too large (RFC 9112 7.1.2)")]
    public async Task ChunkedUpload_BrokenFraming_IsAnsweredAsTheHeadParserWould_AndCloses(string body, int status, string code, string detail)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        body = body.Replace("{big}", new string('a', 40 * 1024), StringComparison.Ordinal);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST {OriginUrl("/echo")} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n{auth}Transfer-Encoding: chunked\r\n\r\n{body}"), SocketFlags.None);
        string all = await ReadToEndAsync(socket).WaitAsync(Timeout);

        int split = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string[] lines = all[..split].Split("\r\n");
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(status, int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(code, headers["X-Proxy-Error"]);
        Assert.Equal("close", headers["Connection"]);
        Assert.Equal(detail, headers["X-Proxy-Detail"]);
    }

    private static async Task<(int Status, Dictionary<string, string> Headers, JsonElement Body)> RawErrorAsync(ProxyFixture proxy, string method, string target, string userKey)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(proxy.EndPoint);
        string host = target.StartsWith("http://", StringComparison.Ordinal) ? new Uri(target).Authority : target.StartsWith('/') ? "origin" : target;
        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes(userKey)) + "\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"), SocketFlags.None);
        string all = await ReadToEndAsync(socket).WaitAsync(Timeout);
        int split = all.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string[] lines = all[..split].Split("\r\n");
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
        int status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        return (status, headers, JsonDocument.Parse(all[(split + 4)..]).RootElement.Clone());
    }

    private static async Task<string> ReadToEndAsync(Socket socket) => (await SocketText.ReceiveToEndOrResetAsync(socket)).Text;

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
