using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Connection;

/// <summary>Whole-server behaviour: the connection ceiling, drain on shutdown, real clients, no leaked sockets.</summary>
[Collection(SerialCollection.Name)]
public sealed class ProxyServerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private static readonly string Auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";

    private static async Task<Socket> ConnectTunnelAsync(ProxyFixture proxy, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(proxy.EndPoint);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{Auth}\r\n"), SocketFlags.None);
        string head = await ReadHeadAsync(socket);
        Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
        return socket;
    }

    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None) == 0)
            {
                break;
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private static int OpenSocketCount() =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd")
            .Count(fd => new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true);

    [Fact]
    public async Task Tunnel_OneGibibyteBothWays_ArrivesIntact()
    {
        const long Size = 1L << 30;
        using var echo = new TcpListener(IPAddress.Loopback, 0);
        echo.Start();
        await using var proxy = new ProxyFixture();
        Task<(byte[] Hash, long Bytes)> targetSide = Task.Run(async () =>
        {
            // The target hashes what it receives and sends its own stream back.
            using Socket target = await echo.AcceptSocketAsync();
            Task<byte[]> send = SendPatternAsync(target, Size, 7);
            (byte[] hash, long bytes) = await Engine.Tests.Tunnel.SocketHashing.ReceiveUntilEndAsync(target);
            await send;
            return (hash, bytes);
        });

        using Socket client = await ConnectTunnelAsync(proxy, ((IPEndPoint)echo.LocalEndpoint).Port);
        Task<byte[]> up = SendPatternAsync(client, Size, 3);
        (byte[] downHash, long downBytes) = await Engine.Tests.Tunnel.SocketHashing.ReceiveUntilEndAsync(client).WaitAsync(Timeout);
        byte[] upHash = await up;
        (byte[] atTarget, long upBytes) = await targetSide.WaitAsync(Timeout);

        Assert.Equal(Size, upBytes);
        Assert.Equal(Size, downBytes);
        Assert.Equal(Convert.ToHexString(upHash), Convert.ToHexString(atTarget));
        Assert.Equal(Convert.ToHexString(ExpectedHash(Size, 7)), Convert.ToHexString(downHash));
        string[] log = await proxy.LogLinesAsync(1);
        // in = tunnel bytes from the client; out = the 200 head plus tunnel bytes from the target.
        Assert.Contains(log, l => l.Contains($" in={Size} ", StringComparison.Ordinal) && l.Contains(" out=10737", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Tunnel_HalfCloseFromClient_TargetStillAnswers()
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        await using var proxy = new ProxyFixture();
        Task server = Task.Run(async () =>
        {
            using Socket s = await target.AcceptSocketAsync();
            (byte[] _, long bytes) = await Engine.Tests.Tunnel.SocketHashing.ReceiveUntilEndAsync(s);   // waits for the client's FIN
            await s.SendAsync(Encoding.ASCII.GetBytes($"got {bytes}"), SocketFlags.None);
            s.Shutdown(SocketShutdown.Send);
        });

        using Socket client = await ConnectTunnelAsync(proxy, ((IPEndPoint)target.LocalEndpoint).Port);
        await client.SendAsync(new byte[12345], SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("got 12345", await ReadAllTextAsync(client).WaitAsync(Timeout));
        await server.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Tunnel_HalfCloseFromTarget_ClientCanStillSend()
    {
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        await using var proxy = new ProxyFixture();
        Task<long> server = Task.Run(async () =>
        {
            using Socket s = await target.AcceptSocketAsync();
            await s.SendAsync("bye"u8.ToArray(), SocketFlags.None);
            s.Shutdown(SocketShutdown.Send);
            return (await Engine.Tests.Tunnel.SocketHashing.ReceiveUntilEndAsync(s)).Bytes;
        });

        using Socket client = await ConnectTunnelAsync(proxy, ((IPEndPoint)target.LocalEndpoint).Port);
        Assert.Equal("bye", await ReadAllTextAsync(client).WaitAsync(Timeout));
        await client.SendAsync(new byte[777], SocketFlags.None);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(777, await server.WaitAsync(Timeout));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MaxConnections_ExceededOnAnHttpAndSocks5Listener_AnswersInTheClientsProtocol(bool socks)
    {
        await using var proxy = new ProxyFixture(o =>
        {
            o.MaxConnections = 1;
            o.AutoDetect = true;
        });
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await held.ConnectAsync(proxy.EndPoint);
        var admitted = System.Diagnostics.Stopwatch.StartNew();
        while (proxy.Server.OpenConnections < 1)
        {
            Assert.True(admitted.Elapsed < Timeout, "the first connection was not admitted");
            await Task.Delay(5);
        }

        await refused.ConnectAsync(proxy.EndPoint);
        // errors.md: a SOCKS5 client gets the nearest RFC 1928 reply (no acceptable method), never
        // an HTTP 503 it cannot read; an HTTP client gets the 503.
        await refused.SendAsync(socks ? new byte[] { 5, 1, 0 } : "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"u8.ToArray());
        byte[] bytes = await ReadAllBytesAsync(refused).WaitAsync(Timeout);
        string answer = Encoding.ASCII.GetString(bytes);
        if (socks)
        {
            Assert.Equal("05FF", Convert.ToHexString(bytes));
        }
        else
        {
            Assert.StartsWith("HTTP/1.1 503 ", answer, StringComparison.Ordinal);
            Assert.Contains("X-Proxy-Error: OVERLOADED\r\n", answer, StringComparison.Ordinal);
        }

        Assert.Contains(" code=OVERLOADED ", (await proxy.LogLinesAsync())[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxConnections_Exceeded_Answers503OverloadedAndCloses()
    {
        await using var proxy = new ProxyFixture(o => o.MaxConnections = 2);
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await a.ConnectAsync(proxy.EndPoint);
        await b.ConnectAsync(proxy.EndPoint);
        // Both admitted (counted by the engine) before the third arrives: an event, not a sleep.
        var admitted = System.Diagnostics.Stopwatch.StartNew();
        while (proxy.Server.OpenConnections < 2)
        {
            Assert.True(admitted.Elapsed < Timeout, $"only {proxy.Server.OpenConnections} of 2 connections admitted");
            await Task.Delay(5);
        }

        await c.ConnectAsync(proxy.EndPoint);

        string answer = await ReadAllTextAsync(c).WaitAsync(Timeout);
        Assert.StartsWith("HTTP/1.1 503 ", answer, StringComparison.Ordinal);
        Assert.Contains("X-Proxy-Error: OVERLOADED\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("Retry-After: 1\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("\"limitedBy\":\"overload\"", answer, StringComparison.Ordinal);
        string correlationId = answer.Split("X-Proxy-Correlation-Id: ")[1].Split("\r\n")[0];
        string line = (await proxy.LogLinesAsync())[0];
        Assert.Contains($"cid={correlationId} ", line, StringComparison.Ordinal);
        Assert.Contains(" status=503 code=OVERLOADED ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_DrainsTheTunnelInFlight_AndClosesIdleConnections()
    {
        await using var origin = new TestOrigin();
        using var target = new TcpListener(IPAddress.Loopback, 0);
        target.Start();
        var proxy = new ProxyFixture(o => o.Drain = TimeSpan.FromSeconds(10));
        using Socket idle = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await idle.ConnectAsync(proxy.EndPoint);
        using Socket tunnel = await ConnectTunnelAsync(proxy, ((IPEndPoint)target.LocalEndpoint).Port);
        using Socket targetSide = await target.AcceptSocketAsync();

        Task stopping = proxy.StopAsync();
        // The idle connection is closed promptly; the tunnel keeps working during the drain.
        Assert.Equal(string.Empty, await ReadAllTextAsync(idle).WaitAsync(Timeout));
        await tunnel.SendAsync("still here"u8.ToArray(), SocketFlags.None);
        byte[] buffer = new byte[64];
        int n = await targetSide.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(Timeout);
        Assert.Equal("still here", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.False(stopping.IsCompleted);

        // Once both sides finish, the drain completes well before its limit.
        tunnel.Shutdown(SocketShutdown.Send);
        targetSide.Shutdown(SocketShutdown.Send);
        await stopping.WaitAsync(TimeSpan.FromSeconds(9));
        await proxy.DisposeAsync();
    }

    [Fact]
    public async Task Curl_PlainAndTunnelled_ThroughTheProxy()
    {
        if (!File.Exists("/usr/bin/curl"))
        {
            Assert.Fail("curl is required (apt-get install curl)");
        }

        await using var origin = new TestOrigin();
        await using var proxy = new ProxyFixture();
        string proxyUrl = $"http://country-us:{ProxyFixture.Key}@127.0.0.1:{proxy.EndPoint.Port}";
        foreach (string tunnelFlag in new[] { "", "-p" })
        {
            var psi = new ProcessStartInfo("curl", $"-sS --max-time 20 {tunnelFlag} -x {proxyUrl} http://127.0.0.1:{origin.Port}/small")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using Process curl = Process.Start(psi)!;
            string output = await curl.StandardOutput.ReadToEndAsync();
            string error = await curl.StandardError.ReadToEndAsync();
            await curl.WaitForExitAsync().WaitAsync(Timeout);
            Assert.True(curl.ExitCode == 0, $"curl {tunnelFlag}: {error}");
            Assert.Equal("Hello, world!", output);
        }

        string[] log = await proxy.LogLinesAsync(2);
        Assert.Contains(log, l => l.Contains("method=GET", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("method=CONNECT", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PythonRequests_ThroughTheProxy()
    {
        var probe = Process.Start(new ProcessStartInfo("python3", "-c \"import requests\"") { RedirectStandardError = true })!;
        await probe.WaitForExitAsync();
        Assert.True(probe.ExitCode == 0, "python3-requests is required (apt-get install python3-requests)");

        await using var origin = new TestOrigin();
        await using var proxy = new ProxyFixture();
        string proxyUrl = $"http://country-us:{ProxyFixture.Key}@127.0.0.1:{proxy.EndPoint.Port}";
        string script = $"import requests; r = requests.get('http://127.0.0.1:{origin.Port}/small', proxies={{'http': '{proxyUrl}'}}, timeout=20); print(r.status_code, r.text)";
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        using Process python = Process.Start(psi)!;
        string output = await python.StandardOutput.ReadToEndAsync();
        string error = await python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync().WaitAsync(Timeout);
        Assert.True(python.ExitCode == 0, error);
        Assert.Equal("200 Hello, world!", output.Trim());
    }

    [Fact]
    public async Task Stop_LeavesNoOpenSockets()
    {
        int before = OpenSocketCount();
        await using (var origin = new TestOrigin())
        {
            var proxy = new ProxyFixture();
            var handler = new SocketsHttpHandler { Proxy = new WebProxy(proxy.Uri) { Credentials = new NetworkCredential("country-us", ProxyFixture.Key) } };
            using (var client = new HttpClient(handler))
            {
                for (int i = 0; i < 20; i++)
                {
                    Assert.Equal("Hello, world!", await client.GetStringAsync($"http://127.0.0.1:{origin.Port}/small"));
                }
            }

            await proxy.DisposeAsync();
        }

        // Closed sockets may take a moment to leave the fd table after their tasks finish.
        int after = OpenSocketCount();
        for (int i = 0; i < 50 && after > before; i++)
        {
            await Task.Delay(100);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            after = OpenSocketCount();
        }

        Assert.True(after <= before, $"open sockets: {before} before, {after} after");
    }

    private static async Task<byte[]> SendPatternAsync(Socket socket, long total, int seed)
    {
        byte[] chunk = Pattern(seed);
        for (long sent = 0; sent < total;)
        {
            int n = (int)Math.Min(chunk.Length, total - sent);
            sent += await socket.SendAsync(chunk.AsMemory(0, n), SocketFlags.None);
        }

        socket.Shutdown(SocketShutdown.Send);
        return ExpectedHash(total, seed);
    }

    private static byte[] Pattern(int seed)
    {
        byte[] chunk = new byte[256 * 1024];
        new Random(seed).NextBytes(chunk);
        return chunk;
    }

    private static byte[] ExpectedHash(long total, int seed)
    {
        byte[] chunk = Pattern(seed);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (long done = 0; done < total; done += chunk.Length)
        {
            hash.AppendData(chunk, 0, (int)Math.Min(chunk.Length, total - done));
        }

        return hash.GetHashAndReset();
    }

    private static async Task<byte[]> ReadAllBytesAsync(Socket socket)
    {
        using var all = new MemoryStream();
        byte[] buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }

    private static async Task<string> ReadAllTextAsync(Socket socket)
    {
        var text = new StringBuilder();
        byte[] buffer = new byte[4096];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return text.ToString();
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial";
}
