using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Engine.Diagnostics;
using Engine.Errors;
using Engine.Forwarding;
using Engine.Hosting;
using Engine.Http;
using Engine.Transport;
using Engine.Tunnel;
using Engine.Upstream;

namespace Engine.Connection;

internal sealed partial class ProxyConnection
{
    private readonly SocketReader _upstreamReader = new();

    // Made on first use, not with the connection: a tunnel or a refused request never needs them,
    // and 10,000 idle tunnels should not each carry ~5 KB of forwarding state (measured per tunnel
    // with LoadTests idle; see docs/performance.md).
    private ArrayBufferWriter<byte>? _upstreamHead;
    private ResponseHead? _response;
    private ChunkedFramingScanner? _requestChunks;
    private ChunkedFramingScanner? _responseChunks;

    private ArrayBufferWriter<byte> UpstreamHead => _upstreamHead ??= new ArrayBufferWriter<byte>(4096);

    private ResponseHead UpstreamResponse => _response ??= new ResponseHead();

    private ChunkedFramingScanner RequestChunks => _requestChunks ??= new ChunkedFramingScanner();

    private ChunkedFramingScanner ResponseChunks => _responseChunks ??= new ChunkedFramingScanner();

    // Interim heads per exchange: 100 and 103 in practice; more is a broken or hostile target.
    private const int MaxInterimResponses = 8;

    private static ReadOnlySpan<byte> KeepAliveToken => "keep-alive"u8;

    private static ReadOnlySpan<byte> CloseToken => "close"u8;

    /// <summary>
    /// Absolute-URI request: rewrite to origin-form (RFC 9112 §3.2.2), strip hop-by-hop fields,
    /// stream the body with its framing while the response is read (so <c>Expect: 100-continue</c>
    /// and early answers work), then relay the response head and body as they arrive.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> ForwardAsync()
    {
        if (_head.Scheme != SchemeKind.Http)
        {
            return await RejectAsync(ErrorCode.WrongUrl, "only http:// URIs are forwarded in absolute form; use CONNECT for https"u8).ConfigureAwait(false);
        }

        string host = TargetHostString();
        int port = _head.TargetPort;
        if (!CheckTargetPolicy(host, port, isConnect: false, out ErrorCode refusal, out byte[] detail))
        {
            return await RejectAsync(refusal, detail).ConfigureAwait(false);
        }

        if (!PassCircuit(host, out int circuitRetryAfter))
        {
            return await RejectCircuitOpenAsync(circuitRetryAfter).ConfigureAwait(false);
        }

        UpstreamConnectionPool? pool = _services.UpstreamPool;
        (Socket? upstream, _, bool reused, bool clientContinues) = await OpenPathAsync(host, port, ConnectPurpose.Http, pool).ConfigureAwait(false);
        if (upstream is null)
        {
            return clientContinues;
        }

        Node node = _node!;

        // A pooled connection the target closed a moment ago fails before any response byte; for
        // a request that can be sent again whole (idempotent, no body) that earns one retry on a
        // fresh connection through the same node (RFC 9112 §9.3.1). Everything else is answered as it failed.
        bool retryable = CanResendWhole;
        for (int attempt = 0; ; attempt++)
        {
            if (upstream is null)
            {
                ConnectResult connect = await _services.Routing.Connector.ConnectAsync(node, host, port, ConnectPurpose.Http, _aborted, _upstreamCredentials).ConfigureAwait(false);
                if (connect.Status != ConnectStatus.Connected)
                {
                    return await RejectConnectAsync(connect).ConfigureAwait(false);
                }

                upstream = connect.Socket!;
                reused = false;
            }

            ExchangeResult result;
            SocketReader upstreamReader = _upstreamReader;
            upstreamReader.Attach(upstream);
            try
            {
                result = await ExchangeAsync(upstream, upstreamReader, pooled: pool is not null, canRetry: reused && retryable).ConfigureAwait(false);
                if (result == ExchangeResult.Reusable && !upstreamReader.TryRead(out _))
                {
                    pool!.Return(node.Index, _head.TargetHost, port, upstream);
                    upstream = null;
                }
            }
            finally
            {
                upstreamReader.Complete();
                upstream?.Dispose();
                upstream = null;
            }

            if (result == ExchangeResult.NodeFailed)
            {
                // An upstream HTTP proxy failed on the request itself (reset before answering, its
                // own 407, not HTTP). Nothing reached the client; a request that can be sent again
                // whole goes on through the next node as onerror says, anything else is answered.
                if (!retryable || _aborted.IsCancellationRequested)
                {
                    node.RecordFailure(_services.Routing.Pool.Health, _services.Time.GetTimestamp());
                    return await RejectNodeFailureAsync(new ConnectResult(_nodeFailure), retriesExhausted: false).ConfigureAwait(false);
                }

                ReleaseNode();
                (upstream, _, reused, clientContinues) = await OpenPathAsync(host, port, ConnectPurpose.Http, pool, node, _nodeFailure).ConfigureAwait(false);
                if (upstream is null)
                {
                    return clientContinues;
                }

                node = _node!;
                continue;
            }

            if (result != ExchangeResult.RetryOnFreshConnection)
            {
                return _clientContinues;
            }
        }
    }

    private string _lastHost = string.Empty;

    /// <summary>
    /// The target host as a string (the connector, the policy checks and the breakers key on it),
    /// made once per connection and host: a keep-alive client usually asks the same host again.
    /// </summary>
    private string TargetHostString()
    {
        ReadOnlySpan<byte> host = _head.TargetHost;
        if (!Ascii.Equals(host, _lastHost))
        {
            _lastHost = Encoding.ASCII.GetString(host);
        }

        return _lastHost;
    }

    // Set by the upload when the client's chunked framing is invalid (the response wait is cancelled).
    private bool _clientFramingFailed;

    // Set when an http node, rather than the target behind it, failed the exchange.
    private ConnectStatus _nodeFailure;

    /// <summary>The request may go again, whole, on a fresh connection: idempotent and without a body (RFC 9112 §9.3.1).</summary>
    private bool CanResendWhole => _head.Framing == BodyFraming.None && IsIdempotent(_head.Method);

    private static bool IsIdempotent(KnownMethod method) =>
        method is KnownMethod.Get or KnownMethod.Head or KnownMethod.Options or KnownMethod.Trace or KnownMethod.Put or KnownMethod.Delete;

    private bool _clientContinues;

    private enum ExchangeResult : byte
    {
        /// <summary>Done; the upstream connection must be closed.</summary>
        Close,
        /// <summary>Done; the upstream connection may go back to the pool.</summary>
        Reusable,
        /// <summary>A reused connection died before any response byte: send again on a fresh one.</summary>
        RetryOnFreshConnection,
        /// <summary>An http node itself failed before any response reached the client (<see cref="_nodeFailure"/>).</summary>
        NodeFailed,
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ExchangeResult> ExchangeAsync(Socket upstream, SocketReader upstreamReader, bool pooled, bool canRetry)
    {
        _nodeFailure = ConnectStatus.Connected;
        _clientFramingFailed = false;
        WriteUpstreamHead(pooled);
        try
        {
            await upstream.SendAsync(UpstreamHead.WrittenMemory, SocketFlags.None, _aborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            if (canRetry && !_aborted.IsCancellationRequested)
            {
                return ExchangeResult.RetryOnFreshConnection;
            }

            if (_node!.Type == NodeType.Http)
            {
                _nodeFailure = ConnectStatus.NodeUnavailable;
                return ExchangeResult.NodeFailed;
            }

            _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Request);
            _clientContinues = await RejectAsync(ErrorCode.RequestError, "the target closed the connection while the request was sent"u8).ConfigureAwait(false);
            return ExchangeResult.Close;
        }

        _bytesIn += UpstreamHead.WrittenCount;
        // Bodyless requests (most scraping GETs) need no upload task and no cancellation source.
        using CancellationTokenSource? uploadCancel = _head.Framing == BodyFraming.None ? null : CancellationTokenSource.CreateLinkedTokenSource(_aborted);
        Task<UploadResult> upload = uploadCancel is null ? NoBodyUploaded : UploadBodyAsync(upstream, upstreamReader, uploadCancel.Token);

        ResponseOutcome outcome = await RelayResponseAsync(upstream, upstreamReader, upload).ConfigureAwait(false);
        if (!upload.IsCompleted && uploadCancel is not null)
        {
            // The target answered before the whole body arrived (an early 413, say): the rest of
            // the body is unread, so the client connection cannot be reused.
            await uploadCancel.CancelAsync().ConfigureAwait(false);
        }

        UploadResult uploaded = await upload.ConfigureAwait(false);
        if (outcome == ResponseOutcome.NotStarted && _node!.Type == NodeType.Http && uploaded != UploadResult.ClientFraming
            && (_nodeFailure != ConnectStatus.Connected || _responseFailure == ErrorCode.ResponseError
                || (_responseFailure == ErrorCode.TargetReset && !_receivedResponseBytes && !canRetry)))
        {
            // A proxy answers a failed target with its own 502/504; silence, garbage or its 407
            // are the node's failure.
            _nodeFailure = _nodeFailure != ConnectStatus.Connected ? _nodeFailure
                : _responseFailure == ErrorCode.ResponseError ? ConnectStatus.NodeProtocolError : ConnectStatus.NodeUnavailable;
            _termination = TerminationState.Normal;
            return ExchangeResult.NodeFailed;
        }

        if (outcome == ResponseOutcome.NotStarted && canRetry && _responseFailure == ErrorCode.TargetReset && !_receivedResponseBytes)
        {
            _termination = TerminationState.Normal;
            return ExchangeResult.RetryOnFreshConnection;
        }

        bool complete = uploaded == UploadResult.Complete;
        switch (outcome)
        {
            case ResponseOutcome.Relayed:
                _clientContinues = complete && _responseKeepsClient;
                return complete && pooled && UpstreamResponse.KeepAlive ? ExchangeResult.Reusable : ExchangeResult.Close;
            case ResponseOutcome.NotStarted:
                _clientContinues = await RejectResponseFailureAsync(uploaded).ConfigureAwait(false);
                return ExchangeResult.Close;
            default:
                _clientContinues = false;
                return ExchangeResult.Close;
        }
    }

    private bool _receivedResponseBytes;

    private bool _responseKeepsClient;

    private void WriteUpstreamHead(bool pooled)
    {
        UpstreamHead.ResetWrittenCount();
        ReadOnlySpan<byte> pathAndQuery = _head.TargetPathAndQuery;
        int fragment = pathAndQuery.IndexOf((byte)'#');
        if (fragment >= 0)
        {
            pathAndQuery = pathAndQuery[..fragment];   // RFC 9110 §4.2.5: fragments are never sent
        }

        Node node = _node!;
        if (node.Type == NodeType.Http)
        {
            // An upstream HTTP proxy takes the absolute form (RFC 9112 §3.2.2) and our credentials.
            WriteAbsoluteRequestLine(pathAndQuery);
        }
        else
        {
            ForwardedRequestWriter.WriteRequestLine(UpstreamHead, _head.MethodBytes, pathAndQuery);
        }

        ForwardedRequestWriter.WriteHost(UpstreamHead, _head.TargetHost, _head.TargetPort, ForwardedRequestWriter.HttpDefaultPort);
        if ((_upstreamCredentials.AuthorizationBytes ?? node.ProxyAuthorizationBytes) is { } credentials)
        {
            HeadWriter.WriteField(UpstreamHead, "Proxy-Authorization"u8, credentials);
        }

        ReadOnlySpan<byte> connectionTokens = _head.GetValue(KnownHeader.Connection);
        bool upgrading = _head.IsUpgrade;
        for (int i = 0; i < _head.HeaderCount; i++)
        {
            Engine.Http.HeaderField field = _head.GetHeader(i);
            if (field.Known is KnownHeader.Host or KnownHeader.ContentLength || HopByHopHeaders.IsHopByHop(field.Name, connectionTokens, upgrading))
            {
                continue;
            }

            HeadWriter.WriteField(UpstreamHead, field.Name, field.Value);
        }

        // One framing, in one normalised form (RFC 9110 §8.6): "5, 5" or two equal Content-Length
        // lines the parser accepted reach the target as a single "Content-Length: 5", so no hop
        // behind us can read the body differently. Chunked bodies keep their Transfer-Encoding.
        if (_head.Framing == BodyFraming.ContentLength)
        {
            Span<byte> length = stackalloc byte[20];
            Utf8Formatter.TryFormat(_head.ContentLength, length, out int written);
            HeadWriter.WriteField(UpstreamHead, "Content-Length"u8, length[..written]);
        }

        if (upgrading)
        {
            HeadWriter.Write(UpstreamHead, "Connection: upgrade\r\n"u8);
        }
        else if (!pooled)
        {
            // Without an upstream pool the connection serves one exchange: say so, so the target
            // closes promptly and neither side holds an idle socket.
            ForwardedRequestWriter.WriteConnectionClose(UpstreamHead);
        }

        HeadWriter.WriteEndOfHead(UpstreamHead);
    }

    private void WriteAbsoluteRequestLine(ReadOnlySpan<byte> pathAndQuery)
    {
        HeadWriter.Write(UpstreamHead, _head.MethodBytes);
        HeadWriter.Write(UpstreamHead, " http://"u8);
        ReadOnlySpan<byte> host = _head.TargetHost;
        bool ipv6 = host.Contains((byte)':');
        if (ipv6)
        {
            HeadWriter.Write(UpstreamHead, "["u8);
        }

        HeadWriter.Write(UpstreamHead, host);
        if (ipv6)
        {
            HeadWriter.Write(UpstreamHead, "]"u8);
        }

        if (_head.TargetPort != ForwardedRequestWriter.HttpDefaultPort)
        {
            Span<byte> port = UpstreamHead.GetSpan(6);
            port[0] = (byte)':';
            Utf8Formatter.TryFormat(_head.TargetPort, port[1..], out int written);
            UpstreamHead.Advance(written + 1);
        }

        HeadWriter.Write(UpstreamHead, pathAndQuery.IsEmpty ? "/"u8 : pathAndQuery);
        HeadWriter.Write(UpstreamHead, " HTTP/1.1\r\n"u8);
    }

    private static readonly Task<UploadResult> NoBodyUploaded = Task.FromResult(UploadResult.Complete);

    private enum UploadResult : byte
    {
        Complete,
        ClientGone,
        ClientFraming,
        TargetGone,
        Cancelled,
    }

    /// <summary>Streams the request body to the target as it arrives, framing bytes included.</summary>
    private async Task<UploadResult> UploadBodyAsync(Socket upstream, SocketReader upstreamReader, CancellationToken cancellationToken)
    {
        long remaining = _head.Framing == BodyFraming.ContentLength ? _head.ContentLength : long.MaxValue;
        bool chunked = _head.Framing == BodyFraming.Chunked;
        RequestChunks.Reset();
        bool sending = false;
        try
        {
            while (remaining > 0)
            {
                sending = false;
                ReadResult read = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                BodySlice slice = TakeBody(buffer, chunked ? RequestChunks : null, ref remaining, out ReadOnlySequence<byte> body);
                if (slice == BodySlice.Invalid)
                {
                    _input.AdvanceTo(buffer.Start);
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
                    await upstream.SendAsync(segment, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }

                _bytesIn += body.Length;
                if (done)
                {
                    // Only the body is consumed and examined: bytes behind it are the next
                    // (pipelined) request, and the head reader must see them without new data.
                    _input.AdvanceTo(body.End);
                    return UploadResult.Complete;
                }

                _input.AdvanceTo(body.End, buffer.End);

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

    private enum BodySlice : byte
    {
        More,
        Done,
        Invalid,
    }

    /// <summary>
    /// The part of <paramref name="buffer"/> that belongs to the current body, framing included:
    /// counted down for Content-Length (<paramref name="remaining"/>), scanned for chunked.
    /// </summary>
    private static BodySlice TakeBody(in ReadOnlySequence<byte> buffer, ChunkedFramingScanner? chunks, ref long remaining, out ReadOnlySequence<byte> body)
    {
        if (chunks is not null)
        {
            var reader = new SequenceReader<byte>(buffer);
            ChunkedScanStatus status = chunks.Scan(ref reader);
            body = buffer.Slice(0, reader.Position);
            return status switch
            {
                ChunkedScanStatus.Invalid => BodySlice.Invalid,
                ChunkedScanStatus.Complete => BodySlice.Done,
                _ => BodySlice.More,
            };
        }

        body = buffer.Slice(0, Math.Min(remaining, buffer.Length));
        remaining -= body.Length;
        return remaining == 0 ? BodySlice.Done : BodySlice.More;
    }

    private enum ResponseOutcome : byte
    {
        /// <summary>Nothing was sent to the client yet: the failure can still be a catalog error.</summary>
        NotStarted,
        Relayed,
        Upgraded,
        /// <summary>Part of the response went out and then something broke: only closing is left.</summary>
        BrokenAfterHead,
    }

    private ErrorCode _responseFailure;

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ResponseOutcome> RelayResponseAsync(Socket upstream, SocketReader upstreamReader, Task<UploadResult> upload)
    {
        RequestMethodKind method = _head.Method == KnownMethod.Head ? RequestMethodKind.Head : RequestMethodKind.Other;
        ResponseHeadParser parser = ResponseHeadParser.Default;
        _deadline.CancelAfter(_services.Limits.ResponseHeadTimeout);
        long waitingSince = _services.Time.GetTimestamp();
        bool anySent = false;
        int interim = 0;
        _receivedResponseBytes = false;
        try
        {
            while (true)
            {
                UpstreamResponse.Reset();
                ResponseParseStatus status;
                while (true)
                {
                    ReadResult read = await upstreamReader.ReadAsync(_deadline.Token).ConfigureAwait(false);
                    if (read.IsCanceled && _clientFramingFailed)
                    {
                        upstreamReader.AdvanceTo(read.Buffer.Start);
                        _responseFailure = ErrorCode.BadRequest;
                        return anySent ? ResponseOutcome.BrokenAfterHead : ResponseOutcome.NotStarted;
                    }

                    if (!_receivedResponseBytes && !read.Buffer.IsEmpty)
                    {
                        // Time to first byte: from the request head sent to the target's first answer byte.
                        _services.Metrics?.FirstByte(_services.Time.GetElapsedTime(waitingSince));
                    }

                    _receivedResponseBytes |= !read.Buffer.IsEmpty;
                    status = ParseResponse(parser, read.Buffer, method, out SequencePosition consumed);
                    if (status != ResponseParseStatus.Incomplete)
                    {
                        upstreamReader.AdvanceTo(consumed);
                        break;
                    }

                    upstreamReader.AdvanceTo(consumed, read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        _responseFailure = ErrorCode.TargetReset;
                        _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers);
                        return anySent ? ResponseOutcome.BrokenAfterHead : ResponseOutcome.NotStarted;
                    }
                }

                if (status == ResponseParseStatus.Invalid)
                {
                    _responseFailure = ErrorCode.ResponseError;
                    _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers);
                    return anySent ? ResponseOutcome.BrokenAfterHead : ResponseOutcome.NotStarted;
                }

                if (UpstreamResponse.IsInterim)
                {
                    // A target that sends endless 1xx heads must not keep the exchange alive.
                    if (++interim > MaxInterimResponses)
                    {
                        _responseFailure = ErrorCode.ResponseError;
                        _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Headers);
                        return anySent ? ResponseOutcome.BrokenAfterHead : ResponseOutcome.NotStarted;
                    }

                    // 100 Continue, 103 Early Hints: relayed as they come (RFC 9110 §15.2), but
                    // never to an HTTP/1.0 client, which cannot understand them.
                    if (_head.Version != RequestVersion.Http10)
                    {
                        ForwardedResponseWriter.WriteHead(_output, UpstreamResponse, _services.EngineName, _head.TargetHost, default);
                        anySent = true;
                        if (!await FlushAsync().ConfigureAwait(false))
                        {
                            _termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Headers);
                            return ResponseOutcome.BrokenAfterHead;
                        }
                    }

                    continue;
                }

                break;
            }

            _deadline.TryReset();
            if (UpstreamResponse.StatusCode == 407 && _node!.Type == NodeType.Http)
            {
                // The upstream proxy refused the engine's credentials: never relay that as if the
                // client's own were wrong.
                _nodeFailure = ConnectStatus.NodeAuthFailed;
                return anySent ? ResponseOutcome.BrokenAfterHead : ResponseOutcome.NotStarted;
            }

            _status = UpstreamResponse.StatusCode;
            if (UpstreamResponse.SwitchesProtocols)
            {
                return await RelayUpgradeAsync(upstream, upstreamReader).ConfigureAwait(false);
            }

            // The client connection survives only if the response has a delimited body and the
            // client wants keep-alive; a close-delimited body ends with the target's FIN.
            _responseKeepsClient = _head.KeepAlive && UpstreamResponse.Framing != ResponseBodyFraming.CloseDelimited && !_draining.IsCancellationRequested;
            ReadOnlySpan<byte> clientConnection = !_responseKeepsClient ? CloseToken
                : _head.Version == RequestVersion.Http10 ? KeepAliveToken : default;
            long before = _output.UnflushedBytes;
            WriteResponseHead(clientConnection);
            anySent = true;   // from here on a failure can only close the connection
            _bytesOut += _output.UnflushedBytes - before;
            return await RelayBodyAsync(upstreamReader).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_aborted.IsCancellationRequested)
        {
            _responseFailure = ErrorCode.GatewayTimeout;
            _termination = new TerminationState(TerminationCause.TargetTimeout, anySent ? TerminationPhase.Data : TerminationPhase.Headers);
            return anySent ? ResponseOutcome.BrokenAfterHead : ResponseOutcome.NotStarted;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            _responseFailure = ErrorCode.TargetReset;
            _termination = new TerminationState(_aborted.IsCancellationRequested ? TerminationCause.Killed : TerminationCause.TargetAbort, anySent ? TerminationPhase.Data : TerminationPhase.Headers);
            return anySent ? ResponseOutcome.BrokenAfterHead : ResponseOutcome.NotStarted;
        }
    }

    private void WriteResponseHead(ReadOnlySpan<byte> clientConnection)
    {
        Span<byte> nodeFields = stackalloc byte[200];
        int n = WriteNodeHeaders(nodeFields);
        ForwardedResponseWriter.WriteHead(_output, UpstreamResponse, _services.EngineName, _head.TargetHost, clientConnection, nodeFields[..n]);
    }

    private ResponseParseStatus ParseResponse(ResponseHeadParser parser, in ReadOnlySequence<byte> buffer, RequestMethodKind method, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        ResponseParseStatus status = parser.Parse(ref reader, UpstreamResponse, method);
        consumed = reader.Position;
        return status;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ResponseOutcome> RelayBodyAsync(SocketReader upstreamReader)
    {
        ResponseBodyFraming framing = UpstreamResponse.Framing;
        if (framing == ResponseBodyFraming.None || (framing == ResponseBodyFraming.ContentLength && UpstreamResponse.ContentLength == 0))
        {
            return await FlushAsync().ConfigureAwait(false) ? ResponseOutcome.Relayed : ResponseOutcome.BrokenAfterHead;
        }

        long remaining = framing == ResponseBodyFraming.ContentLength ? UpstreamResponse.ContentLength : long.MaxValue;
        ResponseChunks.Reset();
        while (true)
        {
            _deadline.CancelAfter(_services.Limits.IdleTimeout);
            ReadResult read = await upstreamReader.ReadAsync(_deadline.Token).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            BodySlice slice = TakeBody(buffer, framing == ResponseBodyFraming.Chunked ? ResponseChunks : null, ref remaining, out ReadOnlySequence<byte> body);
            if (slice == BodySlice.Invalid)
            {
                _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Data);
                return ResponseOutcome.BrokenAfterHead;
            }

            bool done = slice == BodySlice.Done;

            foreach (ReadOnlyMemory<byte> segment in body)
            {
                _output.Write(segment.Span);
            }

            _bytesOut += body.Length;
            // A finished body examines only itself: anything behind it (an unsolicited response on a
            // keep-alive connection) must stay visible to the pool's check before reuse.
            upstreamReader.AdvanceTo(body.End, done ? body.End : buffer.End);
            if (!await FlushAsync().ConfigureAwait(false))
            {
                _termination = new TerminationState(TerminationCause.ClientAbort, TerminationPhase.Data);
                return ResponseOutcome.BrokenAfterHead;
            }

            if (!done && !ReportTrafficBatch())
            {
                MarkTrafficCut();
                return ResponseOutcome.BrokenAfterHead;
            }

            if (done)
            {
                _deadline.TryReset();
                return ResponseOutcome.Relayed;
            }

            if (read.IsCompleted)
            {
                _deadline.TryReset();
                if (framing == ResponseBodyFraming.CloseDelimited)
                {
                    return ResponseOutcome.Relayed;
                }

                // The target closed before the body it announced was complete: the client must
                // see the connection close, not a short body followed by the next response.
                _termination = new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Data);
                return ResponseOutcome.BrokenAfterHead;
            }
        }
    }

    /// <summary>101 Switching Protocols (WebSocket through an absolute URI): relay bytes from here on.</summary>
    private async Task<ResponseOutcome> RelayUpgradeAsync(Socket upstream, SocketReader upstreamReader)
    {
        ForwardedResponseWriter.WriteHead(_output, UpstreamResponse, _services.EngineName, _head.TargetHost, default);
        if (upstreamReader.TryRead(out ReadResult early))
        {
            foreach (ReadOnlyMemory<byte> segment in early.Buffer)
            {
                _output.Write(segment.Span);
            }

            upstreamReader.AdvanceTo(early.Buffer.End);
        }

        if (!await FlushAsync().ConfigureAwait(false))
        {
            return ResponseOutcome.BrokenAfterHead;
        }

        using var relay = new TunnelRelay(_input, _output, upstream, _services.Limits.IdleTimeout, _aborted, _services.Time, _traffic);
        TunnelResult result = await relay.RunAsync().ConfigureAwait(false);
        _bytesIn += result.BytesFromClient;
        _bytesOut += result.BytesFromTarget;
        _termination = result.Termination;
        if (result.Termination.Cause == TerminationCause.Resource)
        {
            MarkTrafficCut();
        }

        return ResponseOutcome.Upgraded;
    }

    private ValueTask<bool> RejectResponseFailureAsync(UploadResult uploaded)
    {
        ErrorCode code = uploaded == UploadResult.TargetGone && _responseFailure == ErrorCode.TargetReset ? ErrorCode.RequestError : _responseFailure;
        if (uploaded == UploadResult.ClientFraming)
        {
            _termination = new TerminationState(TerminationCause.Proxy, TerminationPhase.Request);
            return RejectAsync(ErrorCode.BadRequest, "invalid chunked framing in the request body (RFC 9112 7.1)"u8);
        }

        ReadOnlySpan<byte> detail = code switch
        {
            ErrorCode.GatewayTimeout => "no response head from the target within ResponseHeadTimeout"u8,
            ErrorCode.ResponseError => "the target sent a malformed response head"u8,
            ErrorCode.RequestError => "the target closed the connection while the request body was sent"u8,
            _ => "the target closed the connection before a complete response head"u8,
        };
        return RejectAsync(code, detail);
    }
}
