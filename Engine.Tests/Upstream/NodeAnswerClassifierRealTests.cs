using System.Net;
using System.Net.Sockets;
using System.Text;
using Engine.Errors;
using Engine.Tests.Fixtures;
using Engine.Tests.Fixtures.Upstreams;
using Engine.Upstream;

namespace Engine.Tests.Upstream;

/// <summary>
/// The classifier against live squid and tinyproxy (the CONNECT side runs through HttpProxyConnectorRealTests):
/// a plain-HTTP request to a name that does not resolve (name.invalid on the loopback resolver) and to a closed
/// loopback port, the node's own answer read as the engine reads it.
/// </summary>
public class NodeAnswerClassifierRealTests
{
    private static async Task<NodeAnswer> GetThroughAsync(IPEndPoint node, string authority)
    {
        using Socket socket = await TunnelProbe.ConnectAsync(node);
        using var deadline = new CancellationTokenSource(TunnelProbe.Timeout);
        byte[] request = Encoding.ASCII.GetBytes($"GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        await socket.SendAsync(request, SocketFlags.None, deadline.Token);
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (received.Length < 64 * 1024)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            if (n == 0)
            {
                break;
            }

            received.Write(buffer, 0, n);
            if (received.GetBuffer().AsSpan(0, (int)received.Length).IndexOf("\r\n\r\n"u8) >= 0)
            {
                break;
            }
        }

        return NodeAnswerClassifier.Classify(NodeAnswerClassifierTests.Parse(received.ToArray(), connect: false), connect: false);
    }

    [SkippableFact]
    public async Task Squid_UnresolvableName_IsNameNotResolvedBlamingTheTarget()
    {
        Skip.If(LoopbackDns.UnavailableReason is not null, LoopbackDns.UnavailableReason);
        await using Squid squid = await Squid.StartAsync();

        NodeAnswer answer = await GetThroughAsync(squid.EndPoint, "name.invalid");

        Assert.Equal(ErrorCode.NameNotResolved, answer.Code);
        Assert.Equal(NodeAnswerBlame.Target, answer.Blame);
        Assert.Equal(NodeSignal.SquidError, answer.Signal);
    }

    [SkippableFact]
    public async Task Squid_ClosedPort_IsTargetConnectFailed()
    {
        await using Squid squid = await Squid.StartAsync();

        NodeAnswer answer = await GetThroughAsync(squid.EndPoint, $"127.0.0.1:{EchoTarget.ClosedPort()}");

        Assert.Equal(ErrorCode.TargetConnectFailed, answer.Code);
        Assert.Equal("ERR_CONNECT_FAIL", Encoding.ASCII.GetString(answer.ErrorId));
        Assert.Equal(503, answer.Status);
    }

    [SkippableFact]
    public async Task Squid_OpenTarget_IsTheTargetsAnswer()
    {
        await using Squid squid = await Squid.StartAsync();
        await using var origin = new TestOrigin();

        NodeAnswer answer = await GetThroughAsync(squid.EndPoint, $"127.0.0.1:{origin.Port}");

        Assert.False(answer.IsError);
    }

    [SkippableFact]
    public async Task Tinyproxy_UnresolvableName_IsTargetConnectFailed()
    {
        Skip.If(LoopbackDns.UnavailableReason is not null, LoopbackDns.UnavailableReason);
        await using Tinyproxy tinyproxy = await Tinyproxy.StartAsync();

        NodeAnswer answer = await GetThroughAsync(tinyproxy.EndPoint, "name.invalid");

        // tinyproxy gives a refused port and an unknown name the same page: TARGET_CONNECT_FAILED, never the node's fault.
        Assert.Equal(ErrorCode.TargetConnectFailed, answer.Code);
        Assert.Equal(NodeAnswerBlame.Target, answer.Blame);
        Assert.Equal("Unable to connect", Encoding.ASCII.GetString(answer.ErrorId));
    }

    [SkippableFact]
    public async Task Tinyproxy_ClosedPort_IsTargetConnectFailed()
    {
        await using Tinyproxy tinyproxy = await Tinyproxy.StartAsync();

        NodeAnswer answer = await GetThroughAsync(tinyproxy.EndPoint, $"127.0.0.1:{EchoTarget.ClosedPort()}");

        Assert.Equal(ErrorCode.TargetConnectFailed, answer.Code);
        Assert.Equal(NodeSignal.Tinyproxy, answer.Signal);
    }
}
