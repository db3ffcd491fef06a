#pragma warning disable CA2007, CA1515, CA1707, CA2000
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Engine.Tests.Fixtures;
using Engine.Transport;

namespace Engine.Tests.Connection;

/// <summary>
/// A deadline that fires (on a runtime timer thread) ends the wait it cut on its socket's loop: the
/// connection went on on the timer's thread, and served a pipelined next request from there (its
/// upstream socket on the next loop in turn, a pooled one from any loop).
/// </summary>
public sealed class DeadlineLoopAffinityTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly ConcurrentQueue<EpollLoop?> _opened = new();
    private ProxyFixture? _proxy;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        await _origin.DisposeAsync();
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task PipelinedRequestBehindAResponseHeadTimeout_OpensItsUpstreamSocketOnTheClientsLoop(bool pool, bool connect)
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Limits = o.Limits with { ResponseHeadTimeout = TimeSpan.FromMilliseconds(300) };
            o.PoolUpstream = pool;
            o.OpenSocket = family =>
            {
                _opened.Enqueue(EpollLoop.Current);
                return TcpSocket.Create(family);
            };
        });

        string auth = "Proxy-Authorization: Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("country-us:" + ProxyFixture.Key)) + "\r\n";
        string target = $"http://127.0.0.1:{_origin.Port}";
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_proxy.EndPoint, cts.Token);

        // Two requests in one write: the first never gets an answer (504 after 300 ms), the second is
        // already buffered when the 504 has gone out.
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET {target}/hang HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n" +
            (connect
                ? $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n{auth}\r\n"
                : $"GET {target}/small HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n")), SocketFlags.None, cts.Token);

        string received = await ReadUntilAsync(socket, "HTTP/1.1 200", cts.Token);
        Assert.Contains("GATEWAY_TIMEOUT", received, StringComparison.Ordinal);

        EpollLoop?[] opened = [.. _opened];
        Assert.Equal(2, opened.Length);
        Assert.NotNull(opened[0]);   // the first request ran on the client's loop
        Assert.True(opened[1] is not null, "the second request's upstream socket was opened off the loops (the response-head timer's thread): it joins the next loop in turn, not its client's");
        Assert.Same(opened[0], opened[1]);
    }

    private static async Task<string> ReadUntilAsync(Socket socket, string marker, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        byte[] buffer = new byte[8192];
        while (!text.ToString().Contains(marker, StringComparison.Ordinal))
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                break;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return text.ToString();
    }
}
