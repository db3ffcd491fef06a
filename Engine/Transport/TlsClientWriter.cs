using System.IO.Pipelines;
using System.Net.Security;

namespace Engine.Transport;

/// <summary>
/// The decrypted writer of a client behind TLS (the https listener): the TLS layer's own writer,
/// plus the two ends a socket writer has. Completing it sends TLS's end, a <c>close_notify</c>, the
/// nearest thing TLS has to a FIN (a target's end passed on through a tunnel, the last response of
/// a connection); without it the client would not see a tunnel's target close until it closed
/// itself. <see cref="ResetOnClose"/> is passed down to the socket's writer, and no
/// <c>close_notify</c> goes out after it: a cut ends with the reset alone.
/// </summary>
internal sealed class TlsClientWriter(PipeWriter inner, SslStream tls, IResetOnClose transport) : PipeWriter, IResetOnClose
{
    private readonly Lock _ending = new();
    private volatile bool _reset;
    private Task? _end;   // the close_notify's send, once started: the connection's end waits for it

    public void ResetOnClose()
    {
        _reset = true;
        transport.ResetOnClose();
    }

    /// <summary>Kept by the socket's writer beneath: the shutdown's cut closes that socket.</summary>
    public bool ResetIfCut
    {
        get => transport.ResetIfCut;
        set => transport.ResetIfCut = value;
    }

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    /// <summary>
    /// The synchronous form (a tunnel passing its target's end on): the <c>close_notify</c> goes out
    /// behind it, and the connection's own <see cref="CompleteAsync"/> waits for that send.
    /// </summary>
    public override void Complete(Exception? exception = null)
    {
        inner.Complete(exception);
        _ = End();
    }

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        await inner.CompleteAsync(exception).ConfigureAwait(false);
        await End().ConfigureAwait(false);
    }

    private Task End()
    {
        if (_reset || transport.ResetIfCut)
        {
            return Task.CompletedTask;   // a cut: the reset is the end
        }

        lock (_ending)
        {
            return _end ??= SendCloseNotifyAsync();
        }
    }

    private async Task SendCloseNotifyAsync()
    {
        try
        {
            await tls.ShutdownAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            // The client is gone, or the stream ended first: there is no one to tell.
        }
    }
}
