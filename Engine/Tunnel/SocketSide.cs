using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Engine.Transport;

namespace Engine.Tunnel;

/// <summary>A socket as a relay end: nothing allocated per read or send.</summary>
internal sealed class SocketSide : RelaySide
{
    private TcpSocket _socket = null!;
    private SocketWriter? _writer;     // the client connection's writer: the FIN goes out once, through it
    private SocketReader? _buffered;   // the head reader, while it still holds client bytes

    public SocketSide(bool isClient)
        : base(isClient)
    {
    }

    /// <summary>Takes the end of the next tunnel (its relay is reused: <see cref="TunnelRelay.Attach"/>).</summary>
    public void Attach(TcpSocket socket, SocketReader? buffered, SocketWriter? writer)
    {
        _socket = socket;
        _buffered = buffered;
        _writer = writer;
        ResetEnd();
    }

    public void Detach() => Attach(null!, null, null);

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        if (_buffered is not null && TakeBuffered(buffer, out int taken))
        {
            return new ValueTask<int>(taken);
        }

        return _socket.ReceiveAsync(buffer);
    }

    public override ValueTask<int> WaitForDataAsync(IReceiveSink sink) =>
        _buffered is null ? _socket.WaitForDataAsync(sink) : ReceiveAsync(Memory<byte>.Empty);

    private bool TakeBuffered(Memory<byte> buffer, out int taken)
    {
        taken = 0;
        if (!_buffered!.TryRead(out ReadResult read) || read.Buffer.IsEmpty)
        {
            _buffered = null;   // drained: from here on the socket alone
            return false;
        }

        ReadOnlySequence<byte> bytes = read.Buffer;
        if (buffer.IsEmpty)
        {
            _buffered.AdvanceTo(bytes.Start);
            return true;   // the zero-byte wait: data is here
        }

        taken = (int)Math.Min(buffer.Length, bytes.Length);
        bytes.Slice(0, taken).CopyTo(buffer.Span);
        _buffered.AdvanceTo(bytes.GetPosition(taken));
        return true;
    }

    // What the connection's writer held for its loop's batch end (the 200) goes first.
    public override ValueTask<int> SendAsync(ReadOnlyMemory<byte> data) =>
        _writer?.SendHeldNow() is { } held ? SendAfterAsync(held, data) : _socket.SendAsync(data);

    private async ValueTask<int> SendAfterAsync(Task held, ReadOnlyMemory<byte> data)
    {
        await held.ConfigureAwait(false);
        return await _socket.SendAsync(data).ConfigureAwait(false);
    }

    public override void ShutdownSend(bool closing)
    {
        if (closing)
        {
            // The tunnel ends here: close now, and the close sends the FIN. The owner's close later
            // finds it closed; the connection's writer sends nothing after a tunnel.
            _writer?.CompleteAtClose();
            _socket.Close();
            return;
        }

        if (_writer is not null)
        {
            _writer.Complete();   // nothing is buffered after the answer; the connection's close then sends no second shutdown
            return;
        }

        _socket.Shutdown(SocketShutdown.Send);   // false when already reset or closed: the far end sees the end either way
    }

    public override void Abort(bool reset)
    {
        if (reset)
        {
            _socket.ResetOnClose();   // the close below is then the reset
        }
        else
        {
            _socket.Shutdown(SocketShutdown.Both);   // a FIN after the bytes already queued
        }

        // Closing is what ends a send blocked on a peer that stopped reading; the connection
        // writes nothing after a tunnel, so its later dispose finds the socket closed.
        _socket.Close();
    }
}
