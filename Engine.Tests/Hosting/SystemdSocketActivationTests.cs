using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Connection;
using Engine.Hosting;
using Engine.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;
using Engine.Hosting.Systemd;

namespace Engine.Tests.Hosting;

/// <summary>
/// Socket activation for real: the test binds and listens itself (as systemd does for engine.socket),
/// hands the socket to a child engine as fd 3 with <c>LISTEN_FDS=1</c> and <c>LISTEN_PID</c>, and the
/// engine, whose configured listener is that same address, serves a proxied request on it. The
/// test's socket holds the port, so the engine could not have bound it itself.
/// </summary>
[Collection(Engine.Tests.Connection.SerialCollection.Name)]
public class SystemdSocketActivationTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task Run_ListenFdsSocketForTheConfiguredEndpoint_ServesProxiedRequestsOnIt()
    {
        Tools.RequireNot(SystemdChild.UnavailableReason is not null, SystemdChild.UnavailableReason);
        await using var origin = new TestOrigin();
        using var notify = new NotifySocket();
        var listening = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listening.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listening.Listen(16);
        var endPoint = (IPEndPoint)listening.LocalEndPoint!;
        string config = SystemdWatchdogTests.WriteConfig(endPoint.ToString());

        await using SystemdChild child = SystemdChild.Start(config, new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify.Path }, listening);
        // The child has its own descriptor now; ours must not keep the port alive after it.
        listening.Dispose();
        await notify.ReceiveUntilAsync("READY=1", Patience);

        string answer = await GetThroughProxyAsync(endPoint, $"http://127.0.0.1:{origin.Port}/small");

        Assert.True(answer.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal), answer + "\n" + child.Output);
        Assert.EndsWith("Hello, world!", answer, StringComparison.Ordinal);
        Assert.Contains($"inherited socket {endPoint}", child.Output, StringComparison.Ordinal);
        child.Terminate();
        Assert.True(await child.WaitForExitAsync(Patience) == 0, child.Output);
        File.Delete(config);
    }

    private static async Task<string> GetThroughProxyAsync(IPEndPoint proxy, string url)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(proxy).WaitAsync(Patience);
        NetworkStream stream = client.GetStream();
        string credentials = Convert.ToBase64String(Encoding.ASCII.GetBytes("country-any:demo-key"));
        var uri = new Uri(url);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET {url} HTTP/1.1\r\nHost: {uri.Authority}\r\nProxy-Authorization: Basic {credentials}\r\nConnection: close\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync().WaitAsync(Patience);
    }

    [Theory]
    [InlineData("127.0.0.1:8080", "127.0.0.1:8080", true)]
    [InlineData("127.0.0.1:8080", "127.0.0.1:8081", false)]
    [InlineData("127.0.0.1:8080", "0.0.0.0:8080", false)]
    [InlineData("0.0.0.0:8080", "[::]:8080", true)]
    [InlineData("[::]:8080", "[::]:8080", true)]
    [InlineData("127.0.0.1:8080", "[::ffff:127.0.0.1]:8080", true)]
    [InlineData("127.0.0.1:0", "127.0.0.1:0", false)]
    public void Matches_ConfiguredAndInheritedEndpoints_ByLocalAddress(string configured, string inherited, bool expected) =>
        Assert.Equal(expected, SystemdSocketActivation.Matches(IPEndPoint.Parse(configured), IPEndPoint.Parse(inherited)));

    [Fact]
    public void Adopt_ListenPidOfAnotherProcess_BindsAsUsual_AndUnsetsTheVariables()
    {
        Environment.SetEnvironmentVariable("LISTEN_PID", "1");
        Environment.SetEnvironmentVariable("LISTEN_FDS", "1");
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", "http");
        ListenerBinding[] listeners = [new(new IPEndPoint(IPAddress.Loopback, 8080), ClientProtocol.Http)];

        IReadOnlyList<ListenerBinding> adopted = SystemdSocketActivation.Adopt(listeners, NullLogger.Instance);

        Assert.Null(Assert.Single(adopted).Inherited);
        Assert.Null(Environment.GetEnvironmentVariable("LISTEN_PID"));
        Assert.Null(Environment.GetEnvironmentVariable("LISTEN_FDS"));
        Assert.Null(Environment.GetEnvironmentVariable("LISTEN_FDNAMES"));
    }

    [Fact]
    public void Adopt_NoVariables_ReturnsTheListenersUnchanged()
    {
        ListenerBinding[] listeners = [new(new IPEndPoint(IPAddress.Loopback, 8080), ClientProtocol.Http)];
        Assert.Same(listeners, SystemdSocketActivation.Adopt(listeners, NullLogger.Instance));
    }
}
