using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LoadTests;

/// <summary>
/// Holds --connections idle connections (or, with --tunnels 1, idle CONNECT tunnels) to a proxy for
/// --duration and reports the proxy process's RSS before, while holding and after release (read
/// from /proc/--pid/status), i.e. memory per idle connection. Bounded: it opens at most the count
/// asked for, waits at most the duration, and closes everything it opened.
/// </summary>
internal static class IdleHold
{
    public static async Task<int> RunAsync(LoadOptions o, IPEndPoint origin)
    {
        if (o.Proxy is null || o.Pid <= 0)
        {
            Console.Error.WriteLine("idle needs --proxy and --pid (the proxy's process id, for its RSS)");
            return 2;
        }

        IdleResult r = await HoldAsync(o, origin, () => ProcStat.RssBytes(o.Pid), TimeSpan.FromSeconds(Math.Min(5, o.Duration.TotalSeconds)), o.Duration, CancellationToken.None);
        await Task.Delay(TimeSpan.FromSeconds(3));
        long after = ProcStat.RssBytes(o.Pid);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"scenario=idle kind={(o.Raw ? "raw" : o.Tunnels ? "tunnels" : "connections")} held={r.Held} failed={r.Failed} rss_mb_before={r.RssBefore >> 20} rss_mb_holding={r.RssHolding >> 20} rss_mb_after={after >> 20} bytes_per_connection={r.BytesPerConnection:0}"));
        return r.Failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// Opens the connections (64 at a time: the point is holding them, not the opening rate), waits
    /// <paramref name="settle"/>, reads <paramref name="rss"/>, holds <paramref name="hold"/> more and
    /// reads it again (the larger counts), then closes them all. With --tunnels each opens with
    /// CONNECT; with --raw or --probe each carries one keep-alive GET first, so a relay or tunnel
    /// has its upstream leg up (as the peer scripts' idle-tunnels.js does).
    /// </summary>
    public static async Task<IdleResult> HoldAsync(LoadOptions o, IPEndPoint origin, Func<long> rss, TimeSpan settle, TimeSpan hold, CancellationToken cancellationToken)
    {
        IPEndPoint proxy = o.Proxy ?? throw new ArgumentException("idle needs --proxy");
        long before = rss();
        var sockets = new List<Socket>(o.Connections);
        int failed = 0;
        string auth = o.ProxyAuth is null ? "" : "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(o.ProxyAuth)) + "\r\n";
        byte[] connect = Encoding.ASCII.GetBytes($"CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n{auth}\r\n");
        byte[] probe = Encoding.ASCII.GetBytes($"GET /small HTTP/1.1\r\nHost: {origin}\r\n\r\n");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(TimeSpan.FromMinutes(1) + settle + hold);
        try
        {
            using var gate = new SemaphoreSlim(64);
            await Task.WhenAll(Enumerable.Range(0, o.Connections).Select(async _ =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                bool good = false, admitted = false;
                try
                {
                    await gate.WaitAsync(stop.Token);
                    admitted = true;
                    await socket.ConnectAsync(proxy, stop.Token);
                    good = (!o.Tunnels || o.Raw || await ExchangeAsync(socket, connect, expectBody: false, stop.Token))
                        && (!(o.Raw || o.Probe) || await ExchangeAsync(socket, probe, expectBody: true, stop.Token));
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                }
                finally
                {
                    if (admitted)
                    {
                        gate.Release();
                    }
                }

                if (!good)
                {
                    socket.Dispose();
                    Interlocked.Increment(ref failed);
                    return;
                }

                lock (sockets)
                {
                    sockets.Add(socket);
                }
            }));

            await Task.Delay(settle, stop.Token);
            long holding = rss();
            await Task.Delay(hold, stop.Token);
            return new IdleResult(sockets.Count, failed, before, Math.Max(holding, rss()));
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Sends a request and reads one 200 response head (and, for a GET, its Content-Length body).</summary>
    private static async Task<bool> ExchangeAsync(Socket socket, byte[] request, bool expectBody, CancellationToken cancellationToken)
    {
        await socket.SendAsync(request, SocketFlags.None, cancellationToken);
        byte[] buffer = new byte[1024];
        int filled = 0, headEnd;
        while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            int n = filled < buffer.Length ? await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken) : 0;
            if (n == 0)
            {
                return false;
            }

            filled += n;
        }

        if (!buffer.AsSpan().StartsWith("HTTP/1.1 200"u8) && !buffer.AsSpan().StartsWith("HTTP/1.0 200"u8))
        {
            return false;
        }

        long body = 0;
        if (expectBody)
        {
            ReadOnlySpan<byte> head = buffer.AsSpan(0, headEnd);
            int at = head.IndexOf("Content-Length:"u8);
            at = at >= 0 ? at : head.IndexOf("content-length:"u8);
            if (at >= 0 && !Utf8Parser.TryParse(head[(at + 15)..].TrimStart((byte)' '), out body, out _))
            {
                body = 0;
            }
        }

        // The probe's body is 13 bytes; anything that follows the head belongs to it.
        for (long left = body - (filled - headEnd - 4); left > 0;)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                return false;
            }

            left -= n;
        }

        return true;
    }
}

/// <summary>What <see cref="IdleHold.HoldAsync"/> held and the proxy's RSS before and while holding.</summary>
internal readonly record struct IdleResult(int Held, int Failed, long RssBefore, long RssHolding)
{
    public double BytesPerConnection => Held == 0 ? 0 : (RssHolding - RssBefore) / (double)Held;
}
