using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Forwarding;

/// <summary>
/// Origins that break the rules (RFC 9110/9112) or send what a client must never get: bytes past a
/// complete response reaching the next request on a pooled connection, an unasked-for 101, a field named
/// on a second Connection line, an early final answer to Expect: 100-continue; and the cases that were
/// already right (a HEAD answer with a body, 103 Early Hints, a body cut short).
/// </summary>
public sealed class OriginMisbehaviourTests : IAsyncDisposable
{
    private static readonly string Auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";

    private readonly ProxyFixture _proxy = new();

    public ValueTask DisposeAsync() => _proxy.DisposeAsync();

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return socket;
    }

    /// <summary>Reads until <paramref name="until"/> is seen, the peer closes, or <paramref name="limit"/> passes.</summary>
    private static async Task<(string Text, bool Closed)> ReadAsync(Socket socket, string? until, TimeSpan limit)
    {
        var all = new StringBuilder();
        byte[] buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            while (until is null || !all.ToString().Contains(until, StringComparison.Ordinal))
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0)
                {
                    return (all.ToString(), true);
                }

                all.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
            return (all.ToString(), true);
        }

        return (all.ToString(), false);
    }

    // Bytes an origin sends after a complete Content-Length body, a moment later, stay on
    // the pooled connection; the next GET (any client) within FreshWithoutCheck is handed that
    // connection without a staleness check and received the unsolicited bytes as its response.
    [Fact]
    public async Task OriginOverrunsContentLength_LateBytes_DoNotBecomeTheNextClientsResponse()
    {
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            // Every connection: answer each request; the first connection's first answer overruns.
            int request = 0;
            while (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is not null)
            {
                if (index == 0 && request == 0)
                {
                    await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst", token);
                    await Task.Delay(150, token);
                    await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED", token);
                }
                else
                {
                    await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond", token);
                }

                request++;
            }
        });

        using (Socket a = await ConnectAsync(_proxy.EndPoint))
        {
            await a.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{origin.Port}/1 HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{Auth}\r\n"), SocketFlags.None);
            (string first, _) = await ReadAsync(a, "first", TimeSpan.FromSeconds(5));
            Assert.EndsWith("\r\n\r\nfirst", first, StringComparison.Ordinal);
        }

        await Task.Delay(400);   // the late bytes are in the pooled socket's receive queue; still under FreshWithoutCheck (1 s)

        // Another client, another connection.
        using Socket b = await ConnectAsync(_proxy.EndPoint);
        await b.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{origin.Port}/2 HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{Auth}Connection: close\r\n\r\n"), SocketFlags.None);
        (string second, _) = await ReadAsync(b, null, TimeSpan.FromSeconds(5));
        Assert.DoesNotContain("SMUGGLED", second, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nsecond", second, StringComparison.Ordinal);
    }

    // A 101 to a request that asked for no upgrade is relayed and turns the client
    // connection into a raw tunnel to the origin: the client's next (pipelined) request, with its
    // Proxy-Authorization, reaches the origin verbatim.
    [Fact]
    public async Task Origin101ToPlainGet_IsNotRelayed_AndThePipelinedRequestsCredentialsNeverReachIt()
    {
        ScriptedOrigin? self = null;
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            if (await self!.ReadHeadAsync(socket, token) is null)
            {
                return;
            }

            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: anything\r\nConnection: upgrade\r\n\r\n", token);
            await self.ReadAllAsync(socket, TimeSpan.FromSeconds(2), token);
        });
        self = origin;

        using Socket client = await ConnectAsync(_proxy.EndPoint);
        string first = $"GET http://127.0.0.1:{origin.Port}/a HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{Auth}\r\n";
        string second = $"GET http://other.example/b HTTP/1.1\r\nHost: other.example\r\n{Auth}Cookie: secret-for-other\r\n\r\n";
        await client.SendAsync(Encoding.ASCII.GetBytes(first + second), SocketFlags.None);
        (string answer, _) = await ReadAsync(client, null, TimeSpan.FromSeconds(3));

        Assert.DoesNotContain("Proxy-Authorization", origin.Received, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secret-for-other", origin.Received, StringComparison.Ordinal);
        Assert.DoesNotContain("HTTP/1.1 101", answer, StringComparison.Ordinal);
    }

    // Only the first Connection field line is used to find the fields it names; a field
    // named on a second Connection line is forwarded to the origin (RFC 9110 §7.6.1).
    [Fact]
    public async Task FieldNamedOnASecondConnectionLine_IsNotForwarded()
    {
        ScriptedOrigin? self = null;
        string? seen = null;
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            seen = await self!.ReadHeadAsync(socket, token);
            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", token);
        });
        self = origin;

        using Socket client = await ConnectAsync(_proxy.EndPoint);
        await client.SendAsync(Encoding.ASCII.GetBytes(
            $"GET http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{Auth}Connection: keep-alive\r\nConnection: X-Hop-Secret\r\nX-Hop-Secret: for-the-proxy-only\r\n\r\n"), SocketFlags.None);
        (string answer, _) = await ReadAsync(client, "ok", TimeSpan.FromSeconds(5));
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.NotNull(seen);
        Assert.DoesNotContain("X-Hop-Secret", seen, StringComparison.OrdinalIgnoreCase);
    }

    // Expect: 100-continue answered early with a final status. The engine then closes the
    // client connection (the body is unread) but the relayed head does not say Connection: close.
    [Fact]
    public async Task ExpectContinue_EarlyFinalAnswer_HeadSaysCloseWhenTheEngineCloses()
    {
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            if (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is null)
            {
                return;
            }

            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n", token);
            await Task.Delay(3000, token);
        });

        using Socket client = await ConnectAsync(_proxy.EndPoint);
        await client.SendAsync(Encoding.ASCII.GetBytes(
            $"POST http://127.0.0.1:{origin.Port}/upload HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{Auth}Expect: 100-continue\r\nContent-Length: 10\r\n\r\n"), SocketFlags.None);
        (string answer, bool closed) = await ReadAsync(client, null, TimeSpan.FromSeconds(2));
        Assert.StartsWith("HTTP/1.1 417", answer, StringComparison.Ordinal);
        if (closed)
        {
            Assert.Contains("\r\nConnection: close\r\n", answer, StringComparison.OrdinalIgnoreCase);
        }
    }

    // A target's chunked trailers naming the engine's error fields: the body is refused (cut before its end).
    [Fact]
    public async Task ChunkedTrailer_FromTheTarget_NeverCarriesTheEnginesErrorFields()
    {
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            if (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is null)
            {
                return;
            }

            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "2\r\nok\r\n0\r\nX-Proxy-Error: NODE_UNAVAILABLE\r\nX-Proxy-Correlation-Id: 0000000000000000\r\n\r\n", token);
            await Task.Delay(1000, token);
        });

        using Socket client = await ConnectAsync(_proxy.EndPoint);
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\n{Auth}\r\n"), SocketFlags.None);
        (string answer, _) = await ReadAsync(client, "\r\n0\r\n", TimeSpan.FromSeconds(5));
        (string rest, _) = await ReadAsync(client, "\r\n\r\n", TimeSpan.FromSeconds(1));
        answer += rest;
        Assert.StartsWith("HTTP/1.1 502", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Proxy-Error", answer, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("X-Proxy-Correlation-Id", answer, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task HeadAnswerWithABodyInTheSameSegment_ConnectionNotReused_NextAnswerIsItsOwn()
    {
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            while (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is string head)
            {
                await ScriptedOrigin.SendAsync(socket, head.StartsWith("HEAD", StringComparison.Ordinal)
                    ? "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nLEAKED!"
                    : $"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nc{index}r2", token);
            }
        });

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(_proxy.EndPoint);
        await client.SendAsync(Encoding.ASCII.GetBytes($"HEAD http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: x\r\n{Auth}\r\n"), SocketFlags.None);
        string first = await ReadUntil(client, "\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", first, StringComparison.Ordinal);
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{origin.Port}/ HTTP/1.1\r\nHost: x\r\n{Auth}\r\n"), SocketFlags.None);
        string second = await ReadUntil(client, "r2");
        Assert.DoesNotContain("LEAKED", first + second, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nc1r2", second, StringComparison.Ordinal);   // a new upstream connection
    }

    [Fact]
    public async Task EarlyHints_Relayed_WithoutTheEnginesErrorFields_ThenTheFinalAnswer()
    {
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            if (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is null)
            {
                return;
            }

            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nX-Proxy-Error: NODE_UNAVAILABLE\r\n\r\n", token);
            await Task.Delay(50, token);
            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", token);
            await Task.Delay(1000, token);
        });

        using Socket client = await GetAsync(origin.Port);
        string all = await ReadUntil(client, "\r\n\r\nok");
        Assert.StartsWith("HTTP/1.1 103 Early Hints\r\n", all, StringComparison.Ordinal);
        Assert.Contains("Link: </a.css>; rel=preload", all, StringComparison.Ordinal);
        Assert.Contains("HTTP/1.1 200 OK\r\n", all, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Proxy-Error", all, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task OriginClosesMidContentLengthBody_ClientSeesAShortBodyAndClose_NotAnotherAnswer()
    {
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            if (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is null)
            {
                return;
            }

            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part", token);
            socket.Shutdown(SocketShutdown.Send);
            await Task.Delay(500, token);
        });

        using Socket client = await GetAsync(origin.Port);
        string all = await ReadUntil(client, "\u0000never");   // until the proxy closes
        Assert.StartsWith("HTTP/1.1 200 OK", all, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\nonly-part", all, StringComparison.Ordinal);   // closed short (and reset): detectably incomplete
        Assert.DoesNotContain("X-Proxy-Error", all, StringComparison.Ordinal);
    }

    /// <summary>
    /// A close-delimited body (no Content-Length, not chunked) ends with the connection, so the only
    /// way a client can tell a cut one from a complete one is how the connection ends: a target
    /// that reset mid-body must reach the client as a reset. Fails on an engine that closes the
    /// client with a FIN after a broken relay (the client then holds "part" as the whole body).
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OriginEndsACloseDelimitedBody_ClientSeesAResetOnlyWhenTheOriginReset(bool originResets)
    {
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var origin = new ScriptedOrigin(async (index, socket, token) =>
        {
            if (await ScriptedOrigin.ReadRequestHeadAsync(socket, token) is null)
            {
                return;
            }

            await ScriptedOrigin.SendAsync(socket, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart", token);
            await sent.Task.WaitAsync(token);   // the client has read the head and "part"
            if (originResets)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();   // linger 0: RST
                return;
            }

            socket.Shutdown(SocketShutdown.Send);
            await Task.Delay(500, token);
        });

        using Socket client = await GetAsync(origin.Port);
        string head = await ReadUntil(client, "\r\n\r\npart");
        Assert.StartsWith("HTTP/1.1 200 OK", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close", head, StringComparison.OrdinalIgnoreCase);
        sent.SetResult();

        (string rest, bool reset) = await SocketText.ReceiveToEndOrResetAsync(client);
        Assert.Equal("", rest);
        Assert.Equal(originResets, reset);
        string[] log = await _proxy.LogLinesAsync();
        Assert.Contains(originResets ? " ts=SD" : " ts=--", log[0], StringComparison.Ordinal);
    }

    /// <summary>A client connection with one GET for the origin's <c>/</c> sent through the proxy.</summary>
    private async Task<Socket> GetAsync(int originPort)
    {
        Socket client = await ConnectAsync(_proxy.EndPoint);
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET http://127.0.0.1:{originPort}/ HTTP/1.1\r\nHost: x\r\n{Auth}\r\n"), SocketFlags.None);
        return client;
    }

    // Until the text is seen or the connection ends (a FIN or a reset).
    private static async Task<string> ReadUntil(Socket socket, string until)
    {
        var all = new StringBuilder();
        byte[] buffer = new byte[8192];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            while (!all.ToString().Contains(until, StringComparison.Ordinal))
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (n == 0)
                {
                    break;
                }

                all.Append(Encoding.Latin1.GetString(buffer, 0, n));
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        return all.ToString();
    }
}
