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

        long before = Rss(o.Pid);
        var sockets = new List<Socket>(o.Connections);
        int failed = 0;
        string auth = o.ProxyAuth is null ? "" : "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(o.ProxyAuth)) + "\r\n";
        byte[] connect = Encoding.ASCII.GetBytes($"CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n{auth}\r\n");
        using var stop = new CancellationTokenSource(o.Duration + TimeSpan.FromMinutes(2));
        try
        {
            // 64 at a time: the point is holding them, not the opening rate.
            using var gate = new SemaphoreSlim(64);
            await Task.WhenAll(Enumerable.Range(0, o.Connections).Select(async _ =>
            {
                await gate.WaitAsync(stop.Token);
                try
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await socket.ConnectAsync(o.Proxy, stop.Token);
                    if (o.Tunnels)
                    {
                        await socket.SendAsync(connect, SocketFlags.None, stop.Token);
                        byte[] head = new byte[512];
                        int n = await socket.ReceiveAsync(head, SocketFlags.None, stop.Token);
                        if (n < 12 || !Encoding.ASCII.GetString(head, 0, 12).StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
                        {
                            socket.Dispose();
                            Interlocked.Increment(ref failed);
                            return;
                        }
                    }

                    lock (sockets)
                    {
                        sockets.Add(socket);
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    Interlocked.Increment(ref failed);
                }
                finally
                {
                    gate.Release();
                }
            }));

            await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, o.Duration.TotalSeconds)));
            long holding = Rss(o.Pid);
            await Task.Delay(o.Duration);
            long held = Math.Max(holding, Rss(o.Pid));
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }

            await Task.Delay(TimeSpan.FromSeconds(3));
            long after = Rss(o.Pid);
            double perConnection = sockets.Count == 0 ? 0 : (held - before) / (double)sockets.Count;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"scenario=idle kind={(o.Tunnels ? "tunnels" : "connections")} held={sockets.Count} failed={failed} rss_mb_before={before >> 20} rss_mb_holding={held >> 20} rss_mb_after={after >> 20} bytes_per_connection={perConnection:0}"));
            return failed == 0 ? 0 : 1;
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private static long Rss(int pid) => ProcStat.RssBytes(pid);
}
