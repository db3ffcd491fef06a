using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Engine.Http;
using Engine.Transport;

namespace Engine.Forwarding;

internal sealed partial class HttpExchange
{
    private enum UploadResult : byte
    {
        Complete,
        ClientGone,
        ClientFraming,
        TargetGone,
        Cancelled,
    }

    /// <summary>Streams the request body to the target as it arrives, framing bytes included.</summary>
    private async Task<UploadResult> UploadBodyAsync(TcpSocket upstream, SocketReader upstreamReader, CancellationToken cancellationToken)
    {
        RequestHead head = Head;
        long remaining = head.Framing == BodyFraming.ContentLength ? head.ContentLength : long.MaxValue;
        bool chunked = head.Framing == BodyFraming.Chunked;
        _requestChunks.Reset();
        bool sending = false;
        try
        {
            while (remaining > 0)
            {
                sending = false;
                ReadResult read = await _clientInput.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                BodySlice slice = TakeBody(buffer, chunked ? _requestChunks : null, ref remaining, out ReadOnlySequence<byte> body);
                if (slice == BodySlice.Invalid)
                {
                    _clientInput.AdvanceTo(buffer.Start);
                    // The client's framing broke: the target holds a partial request and will not
                    // answer it, so stop waiting for a response and answer 400 now.
                    _clientFramingFailed = true;
                    upstreamReader.CancelPendingRead();
                    return UploadResult.ClientFraming;
                }

                bool done = slice == BodySlice.Done;

                sending = true;
                foreach (ReadOnlyMemory<byte> segment in body)
                {
                    await upstream.SendAsync(segment, cancellationToken).ConfigureAwait(false);
                }

                _bytesIn += body.Length;
                if (done)
                {
                    // Only the body is consumed and examined: bytes behind it are the next
                    // (pipelined) request, and the head reader must see them without new data.
                    _clientInput.AdvanceTo(body.End);
                    return UploadResult.Complete;
                }

                _clientInput.AdvanceTo(body.End, buffer.End);

                if (read.IsCompleted)
                {
                    return UploadResult.ClientGone;
                }
            }

            return UploadResult.Complete;
        }
        catch (OperationCanceledException)
        {
            return UploadResult.Cancelled;
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            return sending ? UploadResult.TargetGone : UploadResult.ClientGone;
        }
    }
}
