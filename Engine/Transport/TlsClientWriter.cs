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
    private volatile bool _reset;
    private int _ended;

    public void ResetOnClose()
    {
        _reset = true;
        transport.ResetOnClose();
    }

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    /// <summary>The synchronous form (a tunnel passing its target's end on): the <c>close_notify</c> goes out behind it.</summary>
    public override void Complete(Exception? exception = null)
    {
        inner.Complete(exception);
        _ = EndAsync();
    }

    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        await inner.CompleteAsync(exception).ConfigureAwait(false);
        await EndAsync().ConfigureAwait(false);
    }

    private async Task EndAsync()
    {
        if (_reset || Interlocked.Exchange(ref _ended, 1) != 0)
        {
            return;
        }

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
