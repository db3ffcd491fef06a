using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Engine.Transport;
using Engine.Tunnel;

namespace Engine.Benchmarks.Tunnel;

/// <summary>
/// The relay loop of a CONNECT tunnel: the client side through the real transport
/// (<see cref="SocketConnection"/>, its pipes and send loop), <see cref="TunnelRelay"/>, and a
/// target socket, over loopback. One operation moves 1 MiB one way (download: target → client;
/// upload: client → target) and waits until the far end has it, so the figure is relay time per
/// MiB including the kernel's loopback copy; the allocated column is what the relay allocates per
/// MiB (the goal is 0; the allocation-budget test measures the same thing marginally).
/// </summary>
[MemoryDiagnoser]
public class TunnelRelayBenchmarks
{
    private const int Mebibyte = 1 << 20;

    private readonly byte[] _chunk = new byte[64 * 1024];
    private readonly byte[] _sink = new byte[64 * 1024];
    private Socket _client = null!;        // the scraper's end
    private Socket _clientServer = null!;  // the engine's accepted client socket
    private Socket _target = null!;        // the origin's end
    private Socket _targetClient = null!;  // the engine's socket to the origin
    private SocketConnection _transport = null!;
    private TunnelRelay _relay = null!;
    private Task<TunnelResult> _running = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_client, _clientServer) = Pair();
        (_targetClient, _target) = Pair();
        _transport = new SocketConnection(TcpSocket.Adopt(_clientServer), (IPEndPoint)_clientServer.RemoteEndPoint!);
        _relay = new TunnelRelay(_transport.Input, _transport.Output, TcpSocket.Adopt(_targetClient), TimeSpan.FromMinutes(10), CancellationToken.None);
        _running = _relay.RunAsync().AsTask();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Shutdown(SocketShutdown.Send);
        _target.Shutdown(SocketShutdown.Send);
        _running.Wait(TimeSpan.FromSeconds(10));
        _relay.Dispose();
        _transport.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
        _client.Dispose();
        _target.Dispose();
    }

    [Benchmark]
    public Task DownloadOneMebibyte() => MoveAsync(_target, _client);

    [Benchmark]
    public Task UploadOneMebibyte() => MoveAsync(_client, _target);

    private async Task MoveAsync(Socket from, Socket to)
    {
        Task<int> receive = ReceiveAsync(to);
        for (int sent = 0; sent < Mebibyte;)
        {
            sent += await from.SendAsync(_chunk.AsMemory(0, Math.Min(_chunk.Length, Mebibyte - sent)), SocketFlags.None);
        }

        await receive;
    }

    private async Task<int> ReceiveAsync(Socket socket)
    {
        int got = 0;
        while (got < Mebibyte)
        {
            got += await socket.ReceiveAsync(_sink.AsMemory(), SocketFlags.None);
        }

        return got;
    }

    private static (Socket Connecting, Socket Accepted) Pair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var connecting = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        connecting.Connect(listener.LocalEndPoint!);
        Socket accepted = listener.Accept();
        accepted.NoDelay = true;
        return (connecting, accepted);
    }
}
