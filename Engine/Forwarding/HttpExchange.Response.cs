using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Http;
using Engine.Transport;
using Engine.Tunnel;
using Engine.Upstream;

namespace Engine.Forwarding;

internal sealed partial class HttpExchange
{
    private static ReadOnlySpan<byte> KeepAliveToken => "keep-alive"u8;

    private static ReadOnlySpan<byte> CloseToken => "close"u8;

    private enum RelayOutcome : byte
    {
        /// <summary>Nothing was sent to the client yet: the failure can still be a catalog error.</summary>
        NotStarted,
        Relayed,
        Upgraded,
        /// <summary>Part of the response went out and then something broke: only closing is left.</summary>
        BrokenAfterHead,
    }

    /// <summary>What the response side saw; <see cref="ReceivedBytes"/>: any byte at all came back (a stale connection sends none).</summary>
    private readonly record struct ResponseRelay(
        RelayOutcome Outcome,
        TerminationState Termination,
        ExchangeFailure Failure = ExchangeFailure.None,
        ConnectStatus NodeFailure = ConnectStatus.Connected,
        bool ReceivedBytes = false,
        bool KeepsClient = false,
        int Status = 0,
        NodeAnswer NodeAnswer = default);

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ResponseRelay> RelayResponseAsync(TcpSocket upstream, SocketReader upstreamReader, Task<UploadResult> upload, long waitingSince, CancellationToken deadline)
    {
        RequestHead head = Head;
        ExchangeSettings settings = Settings;
        RequestMethodKind method = head.Method == KnownMethod.Head ? RequestMethodKind.Head : RequestMethodKind.Other;
        ResponseHeadParser parser = ResponseHeadParser.Default;
        bool anySent = false;
        bool received = false;
        int interim = 0;
        int statusCode = 0;
        try
        {
            while (true)
            {
                _response.Reset();
                ResponseParseStatus status;
                while (true)
                {
                    ReadResult read = await upstreamReader.ReadAsync(deadline).ConfigureAwait(false);
                    if (read.IsCanceled && _clientFramingFailed)
                    {
                        upstreamReader.AdvanceTo(read.Buffer.Start);
                        return Failed(anySent, received, statusCode, TerminationState.Normal, ExchangeFailure.ClientFraming);
                    }

                    if (!received && !read.Buffer.IsEmpty)
                    {
                        // Time to first byte: from the request head sent to the target's first answer byte.
                        settings.Metrics?.FirstByte(settings.Time.GetElapsedTime(waitingSince));
                    }

                    received |= !read.Buffer.IsEmpty;
                    status = ParseResponse(parser, read.Buffer, method, out SequencePosition consumed);
                    if (status != ResponseParseStatus.Incomplete)
                    {
                        upstreamReader.AdvanceTo(consumed);
                        break;
                    }

                    upstreamReader.AdvanceTo(consumed, read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        return Failed(anySent, received, statusCode, new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers), ExchangeFailure.TargetClosedBeforeHead);
                    }
                }

                if (status == ResponseParseStatus.Invalid)
                {
                    return Failed(anySent, received, statusCode, new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers), ExchangeFailure.ResponseMalformed);
                }

                if (_response.IsInterim)
                {
                    // A target that sends endless 1xx heads must not keep the exchange alive.
                    if (++interim > MaxInterimResponses)
                    {
                        return Failed(anySent, received, statusCode, new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers), ExchangeFailure.ResponseMalformed);
                    }

                    // 100 Continue, 103 Early Hints: relayed as they come (RFC 9110 §15.2), but
                    // never to an HTTP/1.0 client, which cannot understand them.
                    if (head.Version != RequestVersion.Http10)
                    {
                        ForwardedResponseWriter.WriteHead(_clientOutput, _response, settings.EngineName, head.TargetHost, default);
                        anySent = true;
                        if (!await FlushAsync().ConfigureAwait(false))
                        {
                            return new ResponseRelay(RelayOutcome.BrokenAfterHead, ClientGone(TerminationPhase.Headers), ReceivedBytes: true);
                        }
                    }

                    continue;
                }

                break;
            }

            ClearDeadline();
            if (_response.StatusCode == 407 && Node.Type == NodeType.Http)
            {
                // The upstream proxy refused the engine's credentials: never relay that as if the
                // client's own were wrong.
                return new ResponseRelay(anySent ? RelayOutcome.BrokenAfterHead : RelayOutcome.NotStarted, TerminationState.Normal,
                    NodeFailure: ConnectStatus.NodeAuthFailed, ReceivedBytes: true);
            }

            statusCode = _response.StatusCode;
            if (Node.Type == NodeType.Http)
            {
                // A proxy error signal means the node wrote this answer itself (errors.md: never relayed as the
                // target's). Its body is not read: the caller closes the connection, it never goes back to the pool.
                NodeAnswer answer = NodeAnswerClassifier.Classify(_response, connect: false);
                if (answer.IsError)
                {
                    // After a relayed 100 Continue only closing is left, logged as the node's abort.
                    return new ResponseRelay(anySent ? RelayOutcome.BrokenAfterHead : RelayOutcome.NotStarted,
                        anySent ? new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers) : TerminationState.Normal,
                        ReceivedBytes: true, Status: statusCode, NodeAnswer: answer);
                }
            }

            if (_response.SwitchesProtocols && !head.IsUpgrade)
            {
                // RFC 9110 §15.2.2: a server must not switch to a protocol the request did not ask for.
                // Relaying it would turn the client's connection into a raw tunnel to the target, which
                // would then receive the client's next requests verbatim, Proxy-Authorization included.
                return Failed(anySent, received, _response.StatusCode, new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers), ExchangeFailure.ResponseMalformed);
            }

            if (_response.SwitchesProtocols)
            {
                (RelayOutcome upgraded, TerminationState upgradeEnd) = await RelayUpgradeAsync(upstream, upstreamReader).ConfigureAwait(false);
                return new ResponseRelay(upgraded, upgradeEnd, ReceivedBytes: true, Status: statusCode);
            }

            // The client connection survives only if the response has a delimited body and the
            // client wants keep-alive; a close-delimited body ends with the target's FIN.
            // An answer that comes before the whole request body (an early 413/417 after Expect:
            // 100-continue) leaves the body unread: the exchange cancels the upload and the client
            // connection closes, so the head says so (RFC 9110 §10.1.1, RFC 9112 §9.6).
            bool bodyRead = upload.IsCompletedSuccessfully && upload.Result == UploadResult.Complete;
            bool keepsClient = head.KeepAlive && bodyRead && _response.Framing != ResponseBodyFraming.CloseDelimited && !_draining.IsCancellationRequested;
            ReadOnlySpan<byte> clientConnection = !keepsClient ? CloseToken
                : head.Version == RequestVersion.Http10 ? KeepAliveToken : default;
            long before = _clientOutput.UnflushedBytes;
            WriteResponseHead(clientConnection);
            anySent = true;   // from here on a failure can only close the connection
            _bytesOut += _clientOutput.UnflushedBytes - before;
            (RelayOutcome outcome, TerminationState end, ExchangeFailure bodyFailure) = await RelayBodyAsync(upstreamReader).ConfigureAwait(false);
            return new ResponseRelay(outcome, end, bodyFailure, ReceivedBytes: true, KeepsClient: keepsClient, Status: statusCode);
        }
        catch (OperationCanceledException) when (!_aborted.IsCancellationRequested)
        {
            return Failed(anySent, received, statusCode, new TerminationState(TerminationCause.TargetTimeout, anySent ? TerminationPhase.Data : TerminationPhase.Headers),
                ExchangeFailure.ResponseHeadTimeout);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            return Failed(anySent, received, statusCode, new TerminationState(_aborted.IsCancellationRequested ? TerminationCause.Killed : TerminationCause.TargetAbort,
                anySent ? TerminationPhase.Data : TerminationPhase.Headers), ExchangeFailure.TargetClosedBeforeHead);
        }
    }

    /// <summary>
    /// A flush to the client that failed: the client left (C), or the shutdown cut the connection
    /// at the drain deadline (K), which cancels the flush and aborts the client's socket too.
    /// </summary>
    private TerminationState ClientGone(TerminationPhase phase) =>
        new(_aborted.IsCancellationRequested ? TerminationCause.Killed : TerminationCause.ClientAbort, phase);

    private static ResponseRelay Failed(bool anySent, bool received, int status, TerminationState termination, ExchangeFailure failure) =>
        new(anySent ? RelayOutcome.BrokenAfterHead : RelayOutcome.NotStarted, termination, failure, ReceivedBytes: received, Status: status);

    private void WriteResponseHead(ReadOnlySpan<byte> clientConnection)
    {
        Span<byte> nodeFields = stackalloc byte[NodeFields.MaxLength];
        int n = NodeFields.Write(nodeFields, Settings.ExposeNode, Node.IdBytes, _request.Attempts);
        ForwardedResponseWriter.WriteHead(_clientOutput, _response, Settings.EngineName, Head.TargetHost, clientConnection, nodeFields[..n]);
    }

    private ResponseParseStatus ParseResponse(ResponseHeadParser parser, in ReadOnlySequence<byte> buffer, RequestMethodKind method, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        ResponseParseStatus status = parser.Parse(ref reader, _response, method);
        consumed = reader.Position;
        return status;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<(RelayOutcome Outcome, TerminationState Termination, ExchangeFailure Failure)> RelayBodyAsync(SocketReader upstreamReader)
    {
        ResponseBodyFraming framing = _response.Framing;
        if (framing == ResponseBodyFraming.None || (framing == ResponseBodyFraming.ContentLength && _response.ContentLength == 0))
        {
            return await FlushAsync().ConfigureAwait(false)
                ? (RelayOutcome.Relayed, TerminationState.Normal, ExchangeFailure.None)
                : (RelayOutcome.BrokenAfterHead, ClientGone(TerminationPhase.Data), ExchangeFailure.None);
        }

        long remaining = framing == ResponseBodyFraming.ContentLength ? _response.ContentLength : long.MaxValue;
        _responseChunks.Reset();

        // A close-delimited body ends with the connection, so a cut one would read as complete after
        // a FIN: until it ends normally, whatever ends the client's connection (a failure here, the
        // shutdown's cut) resets it. A body with a length or chunks shows a cut itself.
        IResetOnClose? unframed = framing == ResponseBodyFraming.CloseDelimited ? _clientOutput as IResetOnClose : null;
        if (unframed is not null)
        {
            unframed.ResetIfCut = true;
        }

        while (true)
        {
            CancellationToken deadline = StartDeadline(Settings.IdleTimeout);
            ReadResult read = await upstreamReader.ReadAsync(deadline).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            BodySlice slice = TakeBody(buffer, framing == ResponseBodyFraming.Chunked ? _responseChunks : null, ref remaining, out ReadOnlySequence<byte> body);
            if (slice == BodySlice.Invalid)
            {
                return (RelayOutcome.BrokenAfterHead, new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Data), ExchangeFailure.ResponseMalformed);
            }

            bool done = slice == BodySlice.Done;

            foreach (ReadOnlyMemory<byte> segment in body)
            {
                _clientOutput.Write(segment.Span);
            }

            _bytesOut += body.Length;
            // A finished body examines only itself: anything behind it (an unsolicited response on a
            // keep-alive connection) must stay visible to the pool's check before reuse.
            upstreamReader.AdvanceTo(body.End, done ? body.End : buffer.End);
            if (!await FlushAsync().ConfigureAwait(false))
            {
                return (RelayOutcome.BrokenAfterHead, ClientGone(TerminationPhase.Data), ExchangeFailure.None);
            }

            if (!done && !ReportTrafficBatch())
            {
                // The package's cap or the credit pool ran out: the caller names which limit.
                return (RelayOutcome.BrokenAfterHead, new TerminationState(TerminationCause.Resource, TerminationPhase.Data), ExchangeFailure.None);
            }

            if (done)
            {
                ClearDeadline();
                return (RelayOutcome.Relayed, TerminationState.Normal, ExchangeFailure.None);
            }

            if (read.IsCompleted)
            {
                ClearDeadline();
                if (framing == ResponseBodyFraming.CloseDelimited)
                {
                    if (unframed is not null)
                    {
                        unframed.ResetIfCut = false;   // the target's FIN: the body is complete, and so is the client's end
                    }

                    return (RelayOutcome.Relayed, TerminationState.Normal, ExchangeFailure.None);
                }

                // The target closed before the body it announced was complete: the client must
                // see the connection close, not a short body followed by the next response.
                return (RelayOutcome.BrokenAfterHead, new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Data), ExchangeFailure.None);
            }
        }
    }

    /// <summary>101 Switching Protocols (WebSocket through an absolute URI): relay bytes from here on.</summary>
    private async Task<(RelayOutcome Outcome, TerminationState Termination)> RelayUpgradeAsync(TcpSocket upstream, SocketReader upstreamReader)
    {
        ForwardedResponseWriter.WriteHead(_clientOutput, _response, Settings.EngineName, Head.TargetHost, default);
        if (upstreamReader.TryRead(out ReadResult early))
        {
            foreach (ReadOnlyMemory<byte> segment in early.Buffer)
            {
                _clientOutput.Write(segment.Span);
            }

            upstreamReader.AdvanceTo(early.Buffer.End);
        }

        if (!await FlushAsync().ConfigureAwait(false))
        {
            return (RelayOutcome.BrokenAfterHead, TerminationState.Normal);
        }

        using var relay = new TunnelRelay(_clientInput, _clientOutput, upstream, Settings.IdleTimeout, _aborted, Settings.Time, _request.Traffic);
        TunnelResult result = await relay.RunAsync().ConfigureAwait(false);
        _bytesIn += result.BytesFromClient;
        _bytesOut += result.BytesFromTarget;
        return (RelayOutcome.Upgraded, result.Termination);
    }
}
