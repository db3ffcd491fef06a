using System.Net;
using System.Net.Sockets;
using Engine.Tests.Fixtures;

namespace Engine.Tests.Upstream;

/// <summary>Helpers for the real-proxy connector tests: connect to a node, prove a tunnel carries bytes both ways.</summary>
internal static class TunnelProbe
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public static async Task<Socket> ConnectAsync(IPEndPoint node)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var deadline = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(node, deadline.Token);
        return socket;
    }

    public static string Basic(string user, string password) =>
        "Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{user}:{password}"));

    /// <summary>
    /// The target's greeting must come first (part of it may be in <paramref name="early"/>, the bytes
    /// that arrived behind the proxy's answer), then 256 KiB sent through must come back unchanged.
    /// </summary>
    public static async Task AssertCarriesBytesBothWaysAsync(Socket tunnel, ReadOnlyMemory<byte> early)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        byte[] greeting = new byte[EchoTarget.Greeting.Length];
        Assert.True(early.Length <= greeting.Length, "more early bytes than the target sent");
        early.CopyTo(greeting);
        await ReceiveExactlyAsync(tunnel, greeting.AsMemory(early.Length), deadline.Token);
        Assert.Equal(EchoTarget.Greeting, greeting);

        byte[] payload = new byte[256 * 1024];
        new Random(1928).NextBytes(payload);
        byte[] echoed = new byte[payload.Length];
        Task receive = ReceiveExactlyAsync(tunnel, echoed, deadline.Token);
        await tunnel.SendAsync(payload, SocketFlags.None, deadline.Token);
        await receive;
        Assert.Equal(payload, echoed);
    }

    private static async Task ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                throw new IOException($"tunnel closed with {buffer.Length} bytes missing");
            }

            buffer = buffer[n..];
        }
    }

    /// <summary>A node that accepts and closes at once (overloaded or dying), for as long as the returned listener lives.</summary>
    public static Socket StartClosingNode()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(4);
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    using Socket accepted = await listener.AcceptAsync();
                    accepted.Close();
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        });
        return listener;
    }
}
