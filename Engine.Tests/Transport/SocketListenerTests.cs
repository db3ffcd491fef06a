using System.Net;
using System.Net.Sockets;
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
            return Task.CompletedTask;
        }, _ => Task.CompletedTask);

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
}
