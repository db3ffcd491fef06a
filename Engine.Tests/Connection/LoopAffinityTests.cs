#pragma warning disable CA2007, CA1515, CA1707, CA2000
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Auth;
using Engine.Limits;
using Engine.Sessions;
using Engine.State;
using Engine.Tests.Fixtures;
using Engine.Tests.Upstream;
using Engine.Transport;

namespace Engine.Tests.Connection;

/// <summary>
/// A request whose session lookup, rate check or DNS answer came back on another thread (Redis, the
/// resolver) opens its upstream socket on its client's loop: a socket joins the loop of the thread
/// that first waits on it, and one opened from the thread pool joined the next loop in turn, so the
/// request's every later event crossed threads (the sticky Redis bench ran at 0.75–0.88× the
/// memory store's rate with the box half idle).
/// </summary>
public sealed class LoopAffinityTests : IAsyncLifetime
{
    private readonly TestOrigin _origin = new();
    private readonly ConcurrentQueue<EpollLoop?> _callers = new();   // where the slow component was called from
    private readonly ConcurrentQueue<EpollLoop?> _opened = new();    // where each upstream socket was made
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

    [Fact]
    public async Task SessionLookupAnsweredOffTheLoop_UpstreamSocketOpensOnTheClientsLoop()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Sessions = new OffLoopSessionStore(new MemorySessionStore(TimeProvider.System), _callers);
            o.OpenSocket = Record;
        });

        for (int i = 0; i < 4; i++)
        {
            ProxyReply reply = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, $"country-us-session-s{i}", ProxyFixture.Key);
            Assert.Equal(200, reply.Status);
        }

        AssertOpenedWhereCalled();
    }

    [Fact]
    public async Task RateCheckAnsweredOffTheLoop_UpstreamSocketOpensOnTheClientsLoop()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Packages.Clear();
            o.Packages.Add(new Package("p", "p-key", defaultRules: "country-any", limits: new PackageLimits(1000, null, null, null)));
            o.State = new OffLoopTokenStore(new MemoryStateStore(TimeProvider.System), _callers);
            o.OpenSocket = Record;
        });

        for (int i = 0; i < 4; i++)
        {
            ProxyReply reply = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", "p-key");
            Assert.Equal(200, reply.Status);
        }

        AssertOpenedWhereCalled();
    }

    [Fact]
    public async Task DnsAnsweredOffTheLoop_UpstreamSocketOpensOnTheClientsLoop()
    {
        _proxy = new ProxyFixture(o =>
        {
            o.Resolve = async (host, _) =>
            {
                _callers.Enqueue(EpollLoop.Current);
                await Task.Run(() => Thread.Sleep(1), CancellationToken.None);
                return [IPAddress.Loopback];
            };
            o.OpenSocket = Record;
        });

        for (int i = 0; i < 4; i++)
        {
            // A name each time: the cache would answer a second one on the spot.
            ProxyReply reply = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key, host: $"t{i}.loop.test");
            Assert.Equal(200, reply.Status);
        }

        AssertOpenedWhereCalled();
    }

    [Fact]
    public async Task ClientsOfOneListener_AreServedByEveryLoop()
    {
        Assert.True(EpollLoop.Count >= 2 || Environment.ProcessorCount >= 2, "one loop per core: this box must have two");
        _proxy = new ProxyFixture(o => o.OpenSocket = Record);

        // Each client's upstream socket opens on its client's loop; the listener's loop took every
        // client before, and a box's other cores served nothing.
        for (int i = 0; i < 16; i++)
        {
            ProxyReply reply = await ProxyReply.ConnectAsync(_proxy.EndPoint, _origin.Port, "country-us", ProxyFixture.Key);
            Assert.Equal(200, reply.Status);
        }

        Assert.Equal(16, _opened.Count);
        Assert.DoesNotContain(null, _opened);
        Assert.True(_opened.Distinct().Count() >= 2, "16 clients, one loop");
    }

    [Fact]
    public async Task Socks5HandshakesBackToBack_EachClientReadsExactlyItsOwnReplies()
    {
        _proxy = new ProxyFixture(o => o.Socks = true);
        byte[] user = "country-us"u8.ToArray();
        byte[] key = System.Text.Encoding.ASCII.GetBytes(ProxyFixture.Key);
        byte[] login = [1, (byte)user.Length, .. user, (byte)key.Length, .. key];
        byte[] request = [5, 1, 0, 1, 127, 0, 0, 1, (byte)(_origin.Port >> 8), (byte)_origin.Port];
        byte[] reply = new byte[16];

        // Each reply is written right after the client's previous message came in; a connection
        // that began on its listener's loop sent its method reply again in front of its login's
        // (1 WarmUp run in 8, 40 handshakes each). Bytes beyond the expected ones would show here.
        for (int i = 0; i < 300; i++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(_proxy.SocksEndPoint);
            await socket.SendAsync(new byte[] { 5, 1, 2 });
            Assert.Equal("0502", await ReadAsync(socket, reply, 2));
            await socket.SendAsync(login);
            Assert.Equal("0100", await ReadAsync(socket, reply, 2));
            await socket.SendAsync(request);
            Assert.StartsWith("0500", await ReadAsync(socket, reply, 10), StringComparison.Ordinal);
        }
    }

    private static async Task<string> ReadAsync(Socket socket, byte[] buffer, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read = 0;
        while (read < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read, count - read), SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return "closed after " + Convert.ToHexString(buffer, 0, read);
            }

            read += n;
        }

        return Convert.ToHexString(buffer, 0, count);
    }

    // A deadline fires on a timer thread: the wait it cut ends on its socket's loop. The connection
    // went on on the timer's thread and served a pipelined next request from there (its upstream
    // socket on the next loop in turn, a pooled one from any loop); found by a review.
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
            o.OpenSocket = Record;
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

    private TcpSocket Record(AddressFamily family)
    {
        _opened.Enqueue(EpollLoop.Current);
        return TcpSocket.Create(family);
    }

    private void AssertOpenedWhereCalled()
    {
        EpollLoop?[] callers = [.. _callers];
        EpollLoop?[] opened = [.. _opened];
        Assert.Equal(4, callers.Length);
        Assert.Equal(4, opened.Length);
        for (int i = 0; i < callers.Length; i++)
        {
            Assert.NotNull(callers[i]);
            Assert.Same(callers[i], opened[i]);
        }
    }

    /// <summary>Answers every lookup from the thread pool, as Redis does.</summary>
    private sealed class OffLoopSessionStore(ISessionStore inner, ConcurrentQueue<EpollLoop?> callers) : DelegatingSessionStore(inner)
    {
        private readonly ISessionStore _inner = inner;

        public override ValueTask<SessionOpened> OpenAsync(string packageId, ReadOnlyMemory<byte> sessionId, ReadOnlyMemory<byte> fingerprint, SessionTerms terms, bool create = true)
        {
            callers.Enqueue(EpollLoop.Current);
            return new ValueTask<SessionOpened>(Task.Run(async () =>
            {
                Thread.Sleep(1);
                return await _inner.OpenAsync(packageId, sessionId, fingerprint, terms, create);
            }));
        }
    }

    /// <summary>Answers every rate check from the thread pool, as Redis does.</summary>
    private sealed class OffLoopTokenStore(IStateStore inner, ConcurrentQueue<EpollLoop?> callers) : IStateStore
    {
        public ISessionStore Sessions => inner.Sessions;

        public ValueTask<RateDecision> TakeTokenAsync(string packageId, int ratePerSecond)
        {
            callers.Enqueue(EpollLoop.Current);
            return new ValueTask<RateDecision>(Task.Run(async () =>
            {
                Thread.Sleep(1);
                return await inner.TakeTokenAsync(packageId, ratePerSecond);
            }));
        }

        public void AddTraffic(string packageId, long bytes) => inner.AddTraffic(packageId, bytes);

        public long TrafficUsed(string packageId) => inner.TrafficUsed(packageId);

        public long CreditsUsed => inner.CreditsUsed;

        public bool IsDegraded => inner.IsDegraded;

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
