using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Engine.Transport;

namespace Engine.Tunnel;

/// <summary>
/// A client behind TLS as a relay end: its decrypted reader and writer. One copy more than a
/// socket end (the TLS layer has its own buffers anyway).
/// </summary>
internal sealed class PipeSide : RelaySide
{
    private readonly PipeReader _input;
    private readonly PipeWriter _output;

    public PipeSide(PipeReader input, PipeWriter output)
        : base(isClient: true)
    {
        _input = input;
        _output = output;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public override async ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        ReadResult read = await _input.ReadAsync().ConfigureAwait(false);
        ReadOnlySequence<byte> bytes = read.Buffer;
        if (read.IsCanceled)
        {
            _input.AdvanceTo(bytes.Start);
            return 0;   // only the relay's abort cancels: the end
        }

        int taken = (int)Math.Min(buffer.Length, bytes.Length);
        if (buffer.IsEmpty)
        {
            _input.AdvanceTo(bytes.Start);   // the zero-byte wait: data (or the end) is here
            return 0;
        }

        bytes.Slice(0, taken).CopyTo(buffer.Span);
        _input.AdvanceTo(bytes.GetPosition(taken));
        return taken;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public override async ValueTask<int> SendAsync(ReadOnlyMemory<byte> data)
    {
        _output.Write(data.Span);
        FlushResult flushed = await _output.FlushAsync().ConfigureAwait(false);
        if (flushed.IsCompleted || flushed.IsCanceled)
        {
            throw new IOException("The client can no longer be written to.");
        }

        return data.Length;
    }

    public override void ShutdownSend(bool closing) => _output.Complete();

    public override void Abort(bool reset)
    {
        if (reset && _output is IResetOnClose client)
        {
            client.ResetOnClose();   // the TLS connection's close below it is then the reset
        }

        _input.CancelPendingRead();
        _output.CancelPendingFlush();
    }
}
