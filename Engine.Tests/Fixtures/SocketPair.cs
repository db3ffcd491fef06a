using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Engine.Tests.Fixtures;

/// <summary>A connected pair of loopback TCP sockets.</summary>
internal sealed class SocketPair : IDisposable
{
    private SocketPair(Socket a, Socket b)
    {
        A = a;
        B = b;
    }

    public Socket A { get; }

    public Socket B { get; }

    public static async Task<SocketPair> CreateAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task connect = a.ConnectAsync(listener.LocalEndPoint!);
        Socket b = await listener.AcceptAsync();
        await connect;
        b.NoDelay = true;
        return new SocketPair(a, b);
    }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}

/// <summary>
/// Test-side stand-in for the transport: exposes a socket as pipes, completing the input on FIN
/// and shutting down the socket's send side when the output pipe is completed.
/// </summary>
internal sealed class SocketPipes : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Pipe _output = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Task _sender;

    public SocketPipes(Socket socket)
    {
        _socket = socket;
        Input = PipeReader.Create(new NetworkStream(socket, ownsSocket: false));
        _sender = SendLoopAsync();
    }

    public PipeReader Input { get; }

    public PipeWriter Output => _output.Writer;

    private async Task SendLoopAsync()
    {
        try
        {
            while (true)
            {
                ReadResult read = await _output.Reader.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                {
                    await _socket.SendAsync(segment, SocketFlags.None);
                }

                _output.Reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted || read.IsCanceled)
                {
                    break;
                }
            }

            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            await _output.Reader.CompleteAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _output.Writer.CompleteAsync();
        await _sender;
        await Input.CompleteAsync();
    }
}
