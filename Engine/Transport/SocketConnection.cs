using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Engine.Transport;

/// <summary>
/// A client socket exposed as two pipes, in the manner of Kestrel's SocketConnection: the receive
/// loop waits with a zero-byte read before it takes a buffer from the pool, so an idle connection
/// holds no buffer; a FIN from the peer completes the input; completing the output shuts down
/// the socket's send side (half-close). Nothing thrown by the socket escapes: errors complete the
/// pipes and end the loops.
/// </summary>
internal sealed class SocketConnection : IDuplexPipe, IAsyncDisposable
{
    // Kestrel's MinAllocBufferSize: a receive asks for at least 2 KiB, and the pool's 4 KiB
    // blocks mean most reads fill one block.
    private const int MinimumReceiveSize = 2048;

    // While data streams in (see the receive loop): the pool's large block.
    private const int StreamingReceiveSize = BlockMemoryPool.LargeBlock;

    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly CancellationTokenSource _closed = new();
    private Task? _receiving;
    private Task? _sending;

    public SocketConnection(Socket socket, PipeOptions inputOptions, PipeOptions outputOptions)
    {
        _socket = socket;
        _input = new Pipe(inputOptions);
        _output = new Pipe(outputOptions);
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
    }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    public IPEndPoint RemoteEndPoint { get; }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Fires when the client can no longer be written to.</summary>
    public CancellationToken ConnectionClosed => _closed.Token;

    public void Start()
    {
        _receiving = ReceiveLoopAsync();
        _sending = SendLoopAsync();
    }

    private async Task ReceiveLoopAsync()
    {
        PipeWriter writer = _input.Writer;
        Exception? error = null;
        bool streaming = false;
        try
        {
            while (true)
            {
                if (!streaming)
                {
                    ValueTask<int> wait = _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None);
                    if (!wait.IsCompletedSuccessfully)
                    {
                        await wait.ConfigureAwait(false);
                    }
                }

                Memory<byte> memory = writer.GetMemory(streaming ? StreamingReceiveSize : MinimumReceiveSize);
                ValueTask<int> receive = _socket.ReceiveAsync(memory, SocketFlags.None);
                int received = receive.IsCompletedSuccessfully ? receive.Result : await receive.ConfigureAwait(false);
                if (received == 0)
                {
                    break;   // FIN: the client will send no more
                }

                // A read that filled a whole buffer left more in the socket (an upload, a tunnel's
                // client side): read again at once into a large block, without the zero-byte wait,
                // until a read comes back short.
                streaming = received == memory.Length && memory.Length >= MinimumReceiveSize;
                writer.Advance(received);
                ValueTask<FlushResult> flush = writer.FlushAsync();
                FlushResult result = flush.IsCompletedSuccessfully ? flush.Result : await flush.ConfigureAwait(false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;   // the reader is done with this connection
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            error = new ConnectionResetException(e.Message, e);
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    private async Task SendLoopAsync()
    {
        PipeReader reader = _output.Reader;
        try
        {
            while (true)
            {
                ReadResult read = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                if (read.IsCanceled)
                {
                    break;
                }

                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    ValueTask<int> send = _socket.SendAsync(segment, SocketFlags.None);
                    if (!send.IsCompletedSuccessfully)
                    {
                        await send.ConfigureAwait(false);
                    }
                }

                reader.AdvanceTo(buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            // The writer completed: everything is sent, so pass the end on as a FIN.
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The client is gone: nothing more can be written.
            await _closed.CancelAsync().ConfigureAwait(false);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Closes at once: pending reads and writes end.</summary>
    public void Abort()
    {
        _closed.Cancel();
        _socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        // The handler is done: let the send loop flush what it wrote, then close.
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        if (_sending is not null)
        {
            await _sending.ConfigureAwait(false);
        }

        _socket.Dispose();
        if (_receiving is not null)
        {
            await _receiving.ConfigureAwait(false);
        }

        _closed.Dispose();
    }
}
