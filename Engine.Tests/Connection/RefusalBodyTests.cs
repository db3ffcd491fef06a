using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Engine.Tests.Connection;

/// <summary>
/// A refusal sent before the request body was read (spec errors.md, RFC 9112 §9.6): a small
/// known-length body is skipped and the connection kept, so a client can retry on it; anything
/// else stops sending and drains before closing, so the client reads the answer instead of a reset.
/// </summary>
public sealed class RefusalBodyTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
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

    private static string Credentials => Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key));

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint);
        return socket;
    }

    /// <summary>Reads one response: head, then Content-Length bytes of body.</summary>
    private static async Task<(string Head, string Body)> ReadResponseAsync(Socket socket, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        byte[] buffer = new byte[8192];
        int headEnd;
        while ((headEnd = IndexOfHeadEnd(received)) < 0)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            Assert.True(n > 0, "closed before a whole response head: " + Encoding.ASCII.GetString([.. received]));
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        string head = Encoding.ASCII.GetString([.. received.Take(headEnd)]);
        int length = int.Parse(head.Split("\r\n").First(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        while (received.Count < headEnd + 4 + length)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            Assert.True(n > 0, "closed before the whole response body");
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        return (head, Encoding.ASCII.GetString([.. received.Skip(headEnd + 4).Take(length)]));
    }

    private static int IndexOfHeadEnd(List<byte> bytes)
    {
        for (int i = 3; i < bytes.Count; i++)
        {
            if (bytes[i - 3] == '\r' && bytes[i - 2] == '\n' && bytes[i - 1] == '\r' && bytes[i] == '\n')
            {
                return i - 3;
            }
        }

        return -1;
    }

    [Fact]
    public async Task Challenge_ToAPostWithASmallBody_SkipsTheBody_AndTheRetryWorksOnTheSameConnection()
    {
        using var cts = new CancellationTokenSource(Timeout);
        using Socket socket = await ConnectAsync();
        byte[] body = new byte[100_000];
        string target = $"http://127.0.0.1:{_origin.Port}/echo";
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {body.Length}\r\n\r\n"), SocketFlags.None, cts.Token);
        await socket.SendAsync(body, SocketFlags.None, cts.Token);

        (string challenge, _) = await ReadResponseAsync(socket, cts.Token);
        Assert.StartsWith("HTTP/1.1 407 ", challenge, StringComparison.Ordinal);
        Assert.Contains("Connection: keep-alive", challenge, StringComparison.OrdinalIgnoreCase);

        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: Basic {Credentials}\r\nContent-Length: 4\r\n\r\nping"), SocketFlags.None, cts.Token);
        (string answer, _) = await ReadResponseAsync(socket, cts.Token);
        Assert.StartsWith("HTTP/1.1 200 ", answer, StringComparison.Ordinal);
        Assert.Contains("X-Body-Length: 4\r\n", answer + "\r\n", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Challenge_ToABodyOverMaxDrainBytes_ClosesAfterTheClientCanReadTheAnswer()
    {
        using var cts = new CancellationTokenSource(Timeout);
        using Socket socket = await ConnectAsync();
        const int size = 4 * 1024 * 1024;
        string target = $"http://127.0.0.1:{_origin.Port}/echo";
        await socket.SendAsync(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n\r\n"), SocketFlags.None, cts.Token);

        // Keep sending the body while the answer comes: without the lingering close the engine's
        // close with unread data turns into a reset and the answer is lost.
        Task sending = Task.Run(async () =>
        {
            byte[] chunk = new byte[64 * 1024];
            try
            {
                for (int sent = 0; sent < size; sent += chunk.Length)
                {
                    await socket.SendAsync(chunk, SocketFlags.None, cts.Token);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // The engine closed after the linger period: expected once the answer is out.
            }
        });

        (string head, string body) = await ReadResponseAsync(socket, cts.Token);
        Assert.StartsWith("HTTP/1.1 407 ", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("ERR_AUTH_REQUIRED", body, StringComparison.Ordinal);
        await sending;
    }

    [Fact]
    public async Task HttpClient_Posting1MiB_ThroughTheChallenge_50Times_AllSucceed()
    {
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy(_proxy.Uri) { Credentials = new NetworkCredential("country-us", ProxyFixture.Key) },
            UseProxy = true,
        };
        using var client = new HttpClient(handler) { Timeout = Timeout };
        byte[] payload = new byte[1024 * 1024];
        Random.Shared.NextBytes(payload);
        int ok = 0;
        var failures = new List<string>();
        for (int i = 0; i < 50; i++)
        {
            try
            {
                using var content = new ByteArrayContent(payload);
                using HttpResponseMessage response = await client.PostAsync($"http://127.0.0.1:{_origin.Port}/echo", content);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    ok++;
                }
                else
                {
                    failures.Add(response.StatusCode.ToString());
                }
            }
            catch (HttpRequestException e)
            {
                failures.Add(e.Message);
            }
        }

        Assert.True(ok == 50, $"{ok} of 50 succeeded: {string.Join("; ", failures.Distinct())}");
    }

    [Fact]
    public async Task ResponseCutMidBody_IsLoggedWithTheTargetsFailure_NotAsASuccess()
    {
        using var cts = new CancellationTokenSource(Timeout);
        using Socket socket = await ConnectAsync();
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET http://127.0.0.1:{_origin.Port}/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nProxy-Authorization: Basic {Credentials}\r\n\r\n"), SocketFlags.None, cts.Token);
        byte[] buffer = new byte[65536];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // The engine closes (or resets) the cut response: either ends the read.
        }

        // The fixture's log is logfmt: one "key=value" pair per field.
        string[] lines = await _proxy.LogLinesAsync();
        Dictionary<string, string> entry = lines[^1].Split(' ').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal("200", entry["status"]);
        Assert.Equal("TARGET_RESET", entry["code"]);
        Assert.Equal("SD", entry["ts"]);
    }
}
