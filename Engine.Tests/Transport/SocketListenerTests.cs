using System.Net;
using System.Net.Sockets;
using Engine.Tests.Admin;
using Engine.Transport;

namespace Engine.Tests.Transport;

public class SocketListenerTests
{
    [Fact]
    public async Task Constructor_AlreadyListeningSocket_AcceptsOnIt()
    {
        var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listening.Listen(16);
        var served = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new SocketListener(listening, new ConnectionCounter(10), _ =>
        {
            served.TrySetResult();
            return ValueTask.CompletedTask;
        }, _ => ValueTask.CompletedTask);

        Assert.Equal(listening.LocalEndPoint, listener.EndPoint);
        Assert.False(listener.IsAccepting);
        long before = Environment.TickCount64;
        listener.Start();
        Assert.True(listener.IsAccepting);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(listener.EndPoint).WaitAsync(TimeSpan.FromSeconds(10));
            await served.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.True(listener.LastAcceptTicks >= before);
        await listener.StopAcceptingAsync();
        Assert.False(listener.IsAccepting);
        Assert.Throws<ObjectDisposedException>(() => listening.Accept());
    }

    [Theory]
    [InlineData(11, "Wait")]    // EAGAIN: nothing queued
    [InlineData(24, "Pause")]   // EMFILE: out of descriptors, the listener is fine
    [InlineData(23, "Pause")]   // ENFILE
    [InlineData(105, "Pause")]  // ENOBUFS
    [InlineData(12, "Pause")]   // ENOMEM
    [InlineData(103, "Next")]   // ECONNABORTED: the client gave up in the queue
    [InlineData(71, "Next")]    // EPROTO: a protocol error pending on that connection
    [InlineData(113, "Next")]   // EHOSTUNREACH: the same, a network error
    [InlineData(1, "Next")]     // EPERM: a firewall refused that connection
    [InlineData(4, "Next")]     // EINTR: try again
    [InlineData(9, "Stop")]     // EBADF: the listener was closed
    [InlineData(22, "Stop")]    // EINVAL: no longer listening
    [InlineData(88, "Stop")]    // ENOTSOCK
    public void AcceptError_FromTheKernelsErrno_PausesOnlyForResourcesAndStopsOnlyWhenClosed(int errno, string expected)
    {
        // The accept loop's own path (accept4 on the engine's loop): a failed queued connection
        // must never end the listener, and running out of descriptors must pause, not stop.
        Assert.Equal(Enum.Parse<SocketListener.AcceptErrorStep>(expected), SocketListener.OnAcceptError(Epoll.ToSocketError(errno)));
    }

    private static readonly AsyncLocal<string?> Ambient = new();

    [Fact]
    public async Task Connections_DoNotInheritTheStartersExecutionContext()
    {
        // A host that starts the listener inside a logging scope or an Activity must not hand that
        // ambient state to every client.
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new SocketListener(new IPEndPoint(IPAddress.Loopback, 0), 16, new ConnectionCounter(10), _ =>
        {
            seen.TrySetResult(Ambient.Value);
            return ValueTask.CompletedTask;
        }, _ => ValueTask.CompletedTask);

        Ambient.Value = "host scope";
        listener.Start();
        Assert.Equal("host scope", Ambient.Value);   // the starter's own context is left as it was
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(listener.EndPoint).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Null(await seen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        await listener.StopAcceptingAsync();
    }

    [Fact]
    public void Constructor_PortAlreadyServedByAnotherListener_FailsWithAddressInUse()
    {
        // Two engines started on one port must not share it (SO_REUSEPORT would let the kernel
        // split clients between them): the second start fails.
        using var first = new SocketListener(new IPEndPoint(IPAddress.Loopback, 0), 16, new ConnectionCounter(10), _ => ValueTask.CompletedTask, _ => ValueTask.CompletedTask);
        SocketException refused = Assert.Throws<SocketException>(() =>
            new SocketListener(first.EndPoint, 16, new ConnectionCounter(10), _ => ValueTask.CompletedTask, _ => ValueTask.CompletedTask));
        Assert.Equal(SocketError.AddressAlreadyInUse, refused.SocketErrorCode);
    }

    [Fact]
    public async Task ConnectionsThatEndAtOnce_AreNotKeptActive()
    {
        // A handler that is done before its first await: the whole connection runs and ends inside
        // the accept loop's call. The listener used to register it after that, and kept it forever.
        var counter = new ConnectionCounter(1000);
        using var listener = new SocketListener(new IPEndPoint(IPAddress.Loopback, 0), 64, counter, _ => ValueTask.CompletedTask, _ => ValueTask.CompletedTask);
        listener.Start();
        for (int i = 0; i < 50; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.EndPoint).WaitAsync(TimeSpan.FromSeconds(10));
            client.Shutdown(SocketShutdown.Both);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((listener.ActiveConnections > 0 || counter.Current > 0) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, counter.Current);
        Assert.Equal(0, listener.ActiveConnections);
        await listener.StopAcceptingAsync();
    }

    [Fact]
    public async Task Accept_OutOfDescriptors_PausesCountsInMetricsAndResumes()
    {
        // EMFILE as the kernel gives it: a client waits in the backlog and accept(2) fails, three
        // times; the loop must pause (10, 20, 40 ms), count each pause, and then serve the client.
        int failures = 3;
        await using var h = new AdminHarness(options => options.Accept = async listening =>
        {
            if (Volatile.Read(ref failures) > 0)
            {
                bool pending = await Task.Run(() => listening.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead));
                if (pending && Interlocked.Decrement(ref failures) >= 0)
                {
                    throw new SocketException((int)SocketError.TooManyOpenSockets);
                }
            }

            return await listening.AcceptAsync(CancellationToken.None);
        });

        using (HttpClient proxy = h.ProxyClient())
        using (HttpResponseMessage ok = await proxy.GetAsync(h.OriginUrl("/small")))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.Equal(3, h.Proxy.Server.AcceptPauses);
        Assert.True(h.Proxy.Server.IsAccepting);
        using HttpResponseMessage scrape = await h.Client.GetAsync("metrics");
        string[] lines = (await scrape.Content.ReadAsStringAsync()).Split('\n');
        Assert.Contains("engine_accept_paused_total 3", lines);
    }
}
