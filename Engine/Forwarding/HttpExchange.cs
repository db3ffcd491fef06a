using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Engine.Diagnostics;
using Engine.Http;
using Engine.Limits;
using Engine.Transport;
using Engine.Upstream;

namespace Engine.Forwarding;

/// <summary>
/// One absolute-URI request through one upstream connection: rewrite the head to origin-form
/// (RFC 9112 §3.2.2; absolute-form with credentials for an http node), stream the body with its
/// framing while the response is read (so <c>Expect: 100-continue</c> and early answers work),
/// then relay the response head and body as they arrive. Returns an <see cref="ExchangeResult"/>;
/// it never writes a catalog error itself: failures before the first response byte come back as
/// <see cref="ExchangeOutcome.Failed"/> or <see cref="ExchangeOutcome.NodeFailed"/> for the caller to answer.
/// </summary>
/// <remarks>
/// Step map (as in YARP's HttpForwarder):
/// <list type="number">
/// <item>Write the upstream head and send it. A send failure on a reused connection → retry on a fresh one;
/// through an http node → the node failed; otherwise <see cref="ExchangeFailure.RequestSendFailed"/>.</item>
/// <item>Start the upload (only for a request with a body), concurrently with 3.</item>
/// <item>Read the response head under ResponseHeadTimeout; relay interim heads (1xx) to HTTP/1.1 clients.</item>
/// <item>Classify: an http node's error answer (<see cref="NodeAnswerClassifier"/>) is translated, never relayed; its 407,
/// silence or garbage is the node's failure; a stale reused connection earns one retry.</item>
/// <item>Write the response head (hop-by-hop stripped, Via, node fields) and relay the body with its framing,
/// or relay both ways after 101 Switching Protocols.</item>
/// <item>Decide reuse: the upstream connection goes back to the pool only after a complete, delimited
/// response with nothing unsolicited behind it; the client continues only if its body was read whole.</item>
/// </list>
/// One instance per client connection, made on its first forwarded request: tunnels and refused
/// requests never carry its buffers.
/// </remarks>
internal sealed partial class HttpExchange : IDisposable, IDeferredSend
{
    // Interim heads per exchange: 100 and 103 in practice; more is a broken or hostile target.
    private const int MaxInterimResponses = 8;

    private static readonly Task<UploadResult> NoBodyUploaded = Task.FromResult(UploadResult.Complete);

    private PipeReader _clientInput;
    private PipeWriter _clientOutput;
    private readonly CancellationToken _aborted;
    private readonly CancellationToken _draining;
    private readonly SocketReader _upstreamReader = new();
    private readonly ArrayBufferWriter<byte> _upstreamHead = new(4096);
    private readonly ResponseHead _response = new();
    private readonly ChunkedFramingScanner _requestChunks = new();
    private readonly ChunkedFramingScanner _responseChunks = new(refuseEngineTrailers: true);
    private Deadline? _deadline;
    private readonly CancellationTokenRegistration _onAbort;   // the drain deadline ends whatever phase is armed

    // The exchange in progress (set by RunAsync, read by its steps).
    private ExchangeRequest _request;
    private long _bytesIn;
    private long _bytesOut;
    // Set by the upload when the client's chunked framing is invalid (the response wait is cancelled).
    private volatile bool _clientFramingFailed;

    // A bodyless request's head, handed to the loop for the end of its batch (IDeferredSend), so the
    // batch's requests reach the targets back to back; the socket it goes to, until it is sent.
    private TcpSocket? _headFor;
    // The held head's send failed (or, the kernel having taken part of it, its rest did): answered
    // as a send failure once the wait for the answer ends, as the send in the exchange's own frame would be.
    private volatile bool _headSendFailed;
    private volatile bool _headInFlight;   // its rest still waits for the socket: the connection is not offered again

    /// <param name="aborted">The drain period is over: cut whatever is still running.</param>
    /// <param name="draining">Shutdown began: the client connection is not kept after this exchange.</param>
    public HttpExchange(PipeReader clientInput, PipeWriter clientOutput, CancellationToken aborted, CancellationToken draining)
    {
        _clientInput = clientInput;
        _clientOutput = clientOutput;
        _aborted = aborted;
        _draining = draining;

        // The waits of an exchange (the answer's head, a body read) run on their own deadlines, not
        // on the shutdown's token: when the drain period is over they are ended here, or a request
        // waiting on a silent target would outlive the shutdown's cut by up to its timeout.
        _onAbort = aborted.UnsafeRegister(static state => Volatile.Read(ref ((HttpExchange)state!)._deadline)?.Expire(), this);
    }

    /// <summary>Serves another client from now on (a pooled connection's next one, after <see cref="Detach"/>); per-exchange state is reset by <see cref="RunAsync"/>.</summary>
    public void Attach(PipeReader clientInput, PipeWriter clientOutput)
    {
        _clientInput = clientInput;
        _clientOutput = clientOutput;
    }

    /// <summary>Lets go of the client's reader and writer and the last request.</summary>
    public void Detach()
    {
        _clientInput = null!;
        _clientOutput = null!;
        _request = default;
    }

    private RequestHead Head => _request.Head;

    private Node Node => _request.Node;

    private ExchangeSettings Settings => _request.Settings;

    /// <summary>Runs the exchange; the caller owns the upstream socket (returns it to the pool on <see cref="ExchangeOutcome.Reusable"/>, disposes it otherwise).</summary>
    /// <remarks>Not an async method itself: the exchange is one frame (<see cref="ExchangeAsync"/>), which waits for the answer.</remarks>
    public ValueTask<ExchangeResult> RunAsync(ExchangeRequest request)
    {
        _request = request;
        _bytesIn = 0;
        _bytesOut = 0;
        _clientFramingFailed = false;
        _headSendFailed = false;
        SocketReader reader = _upstreamReader;
        reader.Attach(request.Upstream);
        return ExchangeAsync(request.Upstream, reader);
    }

    public void Dispose()
    {
        _onAbort.Dispose();
        _deadline?.Dispose();
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ExchangeResult> ExchangeAsync(TcpSocket upstream, SocketReader upstreamReader)
    {
        try
        {
            bool canRetry = _request.CanRetry;

            // :: Step 1. A head with no body behind it is held for the end of the loop's batch when
            // the exchange runs on a loop: nothing follows it on this socket before the answer.
            WriteUpstreamHead();
            _headFor = Head.Framing == BodyFraming.None ? upstream : null;
            if (_headFor is null || !EpollLoop.DeferSend(this))
            {
                _headFor = null;
                try
                {
                    await upstream.SendAsync(_upstreamHead.WrittenMemory, _aborted).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    return SendFailed(canRetry);
                }
            }

            _bytesIn += _upstreamHead.WrittenCount;

            // :: Step 2 — bodyless requests (most scraping GETs) need no upload task and no cancellation source.
            using CancellationTokenSource? uploadCancel = Head.Framing == BodyFraming.None ? null : CancellationTokenSource.CreateLinkedTokenSource(_aborted);
            Task<UploadResult> upload = uploadCancel is null ? NoBodyUploaded : UploadBodyAsync(upstream, upstreamReader, uploadCancel.Token);

            // :: Steps 3 and 5. The response-head deadline runs from here, the request sent. Without a
            // body to upload, the wait for the first answer byte is this frame's: its wake-up resumes
            // this method rather than the relay and its socket read below it too. The relay reports
            // what the wait met (the deadline, a reset), reading the same token and socket.
            CancellationToken responseDeadline = StartDeadline(Settings.ResponseHeadTimeout);
            long waitingSince = Settings.Time.GetTimestamp();
            if (uploadCancel is null)
            {
                ValueTask<int> answered = upstreamReader.WaitForDataAsync(responseDeadline);
                if (answered.IsCompletedSuccessfully)
                {
                    _ = answered.Result;   // taken even when done: the operation is reused only once its result is read
                }
                else
                {
                    try
                    {
                        await answered.ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
                    {
                    }
                }
            }

            ResponseRelay relay = await RelayResponseAsync(upstream, upstreamReader, upload, waitingSince, responseDeadline).ConfigureAwait(false);
            if (_headSendFailed && relay.Outcome == RelayOutcome.NotStarted)
            {
                return SendFailed(canRetry);   // the held head never went out whole
            }

            if (!upload.IsCompleted && uploadCancel is not null)
            {
                // The target answered before the whole body arrived (an early 413, say): the rest of
                // the body is unread, so the client connection cannot be reused.
                await uploadCancel.CancelAsync().ConfigureAwait(false);
            }

            UploadResult uploaded = await upload.ConfigureAwait(false);

            // :: Step 4 — a node's own error answer is translated: a target failure it reports is answered
            // as ours, its own failure fails over; silence, garbage or its 407 are the node's failure.
            if (relay.Outcome == RelayOutcome.NotStarted && relay.NodeAnswer.IsError && uploaded != UploadResult.ClientFraming)
            {
                return relay.NodeAnswer.FailsOver
                    ? Result(ExchangeOutcome.NodeFailed, TerminationState.Normal) with { NodeFailure = ConnectStatus.NodeUnavailable, Status = relay.Status, NodeAnswer = relay.NodeAnswer }
                    : Result(ExchangeOutcome.Failed, TerminationState.Normal) with { Failure = ExchangeFailure.NodeAnswered, Status = relay.Status, NodeAnswer = relay.NodeAnswer };
            }

            if (relay.Outcome == RelayOutcome.NotStarted && Node.Type == NodeType.Http && uploaded != UploadResult.ClientFraming
                && relay.Termination.Cause != TerminationCause.Killed   // the shutdown cut it: not the node's failure
                && (relay.NodeFailure != ConnectStatus.Connected || relay.Failure == ExchangeFailure.ResponseMalformed
                    || (relay.Failure == ExchangeFailure.TargetClosedBeforeHead && !relay.ReceivedBytes && !canRetry)))
            {
                ConnectStatus failure = relay.NodeFailure != ConnectStatus.Connected ? relay.NodeFailure
                    : relay.Failure == ExchangeFailure.ResponseMalformed ? ConnectStatus.NodeProtocolError : ConnectStatus.NodeUnavailable;
                return Result(ExchangeOutcome.NodeFailed, TerminationState.Normal) with { NodeFailure = failure };
            }

            if (relay.Outcome == RelayOutcome.NotStarted && canRetry && relay.Failure == ExchangeFailure.TargetClosedBeforeHead && !relay.ReceivedBytes)
            {
                return Result(ExchangeOutcome.RetryOnFreshConnection, TerminationState.Normal);
            }

            // :: Step 6
            bool complete = uploaded == UploadResult.Complete;
            switch (relay.Outcome)
            {
                case RelayOutcome.Relayed:
                    // Bytes behind a finished response (an unsolicited answer) make the connection unfit for reuse.
                    return Result(complete && _request.Pooled && _response.KeepAlive && !_headInFlight && !upstreamReader.TryRead(out _) ? ExchangeOutcome.Reusable : ExchangeOutcome.Relayed, relay.Termination) with
                    {
                        Status = relay.Status,
                        ClientContinues = complete && relay.KeepsClient,
                    };
                case RelayOutcome.NotStarted when uploaded == UploadResult.ClientFraming:
                    return Result(ExchangeOutcome.Failed, new TerminationState(TerminationCause.Proxy, TerminationPhase.Request)) with
                    {
                        Failure = ExchangeFailure.ClientFraming,
                        ClientFramingError = _requestChunks.Error,
                    };
                case RelayOutcome.NotStarted:
                    return Result(ExchangeOutcome.Failed, relay.Termination) with
                    {
                        Failure = uploaded == UploadResult.TargetGone && relay.Failure == ExchangeFailure.TargetClosedBeforeHead
                            ? ExchangeFailure.TargetClosedDuringUpload
                            : relay.Failure,
                    };
                case RelayOutcome.Upgraded:
                    return Result(ExchangeOutcome.Upgraded, relay.Termination) with { Status = relay.Status };
                default:
                    return Result(ExchangeOutcome.Broken, relay.Termination) with { Status = relay.Status, Failure = relay.Failure };
            }
        }
        finally
        {
            upstreamReader.Complete();
            _request = default;
        }
    }

    /// <summary>The request head could not be sent: a reused connection earns a retry, an http node has failed, otherwise the request failed.</summary>
    private ExchangeResult SendFailed(bool canRetry)
    {
        if (canRetry && !_aborted.IsCancellationRequested)
        {
            return Result(ExchangeOutcome.RetryOnFreshConnection, TerminationState.Normal);
        }

        if (Node.Type == NodeType.Http)
        {
            return Result(ExchangeOutcome.NodeFailed, TerminationState.Normal) with { NodeFailure = ConnectStatus.NodeUnavailable };
        }

        return Result(ExchangeOutcome.Failed, new TerminationState(TerminationCause.TargetAbort, TerminationPhase.Request)) with
        {
            Failure = ExchangeFailure.RequestSendFailed,
        };
    }

    /// <summary>
    /// The loop's third phase: sends the held head. A failure shuts the socket down, so the wait for
    /// the answer ends at once and the exchange answers it as the failed send it is.
    /// </summary>
    void IDeferredSend.SendDeferred()
    {
        TcpSocket? upstream = _headFor;
        _headFor = null;
        if (upstream is null)
        {
            return;
        }

        ValueTask<int> send;
        try
        {
            send = upstream.SendAsync(_upstreamHead.WrittenMemory, _aborted);
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            HeadSendFailed(upstream);   // nothing may throw on the loop: the exchange answers it
            return;
        }

        if (send.IsCompletedSuccessfully)
        {
            _ = send.Result;
            return;
        }

        _headInFlight = true;
        _ = FinishHeadSendAsync(send, upstream);
    }

    // The kernel took part of the head (or none): the rest goes when the socket is writable. The
    // answer cannot come before the head went out, so the head's buffer stays as it is until then.
    private async Task FinishHeadSendAsync(ValueTask<int> send, TcpSocket upstream)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            HeadSendFailed(upstream);
        }
        finally
        {
            _headInFlight = false;
        }
    }

    private void HeadSendFailed(TcpSocket upstream)
    {
        if (!ReferenceEquals(_upstreamReader.Socket, upstream))
        {
            return;   // an earlier exchange's socket, closed since: nothing waits on it
        }

        _headSendFailed = true;
        upstream.Shutdown(SocketShutdown.Both);   // wakes the wait for the answer; false when already closed
    }

    private ExchangeResult Result(ExchangeOutcome outcome, TerminationState termination) =>
        new(outcome, termination, BytesIn: _bytesIn, BytesOut: _bytesOut);

    /// <summary>Arms the exchange's deadline for its next phase (the response head, a body read).</summary>
    private CancellationToken StartDeadline(TimeSpan timeout)
    {
        if (_deadline is null || !ReferenceEquals(_deadline.Time, Settings.Time))
        {
            _deadline?.Dispose();
            Volatile.Write(ref _deadline, new Deadline(Settings.Time));
        }

        CancellationToken token = _deadline.Arm(timeout);
        if (_aborted.IsCancellationRequested)
        {
            // Armed after the abort's one expiry (its callback found nothing armed, or claimed the
            // phase before): this phase is cut too. Arm's exchange is a full fence, so either the
            // callback saw this phase or this sees the token cancelled.
            _deadline.Expire();
        }

        return token;
    }

    private void ClearDeadline() => _deadline?.Clear();

    private void WriteUpstreamHead()
    {
        ArrayBufferWriter<byte> head = _upstreamHead;
        head.ResetWrittenCount();
        RequestHead request = Head;
        ReadOnlySpan<byte> pathAndQuery = request.TargetPathAndQuery;
        int fragment = pathAndQuery.IndexOf((byte)'#');
        if (fragment >= 0)
        {
            pathAndQuery = pathAndQuery[..fragment];   // RFC 9110 §4.2.5: fragments are never sent
        }

        if (Node.Type == NodeType.Http)
        {
            // An upstream HTTP proxy takes the absolute form (RFC 9112 §3.2.2) and our credentials.
            WriteAbsoluteRequestLine(head, request, pathAndQuery);
        }
        else
        {
            ForwardedRequestWriter.WriteRequestLine(head, request.MethodBytes, pathAndQuery);
        }

        ForwardedRequestWriter.WriteHost(head, request.TargetHost, request.TargetPort, ForwardedRequestWriter.HttpDefaultPort);
        if ((_request.ProxyAuthorization ?? Node.ProxyAuthorizationBytes) is { } credentials)
        {
            HeadWriter.WriteField(head, "Proxy-Authorization"u8, credentials);
        }

        ReadOnlySpan<byte> connectionTokens = request.GetValue(KnownHeader.Connection);
        bool upgrading = request.IsUpgrade;
        for (int i = 0; i < request.HeaderCount; i++)
        {
            Http.HeaderField field = request.GetHeader(i);
            if (field.Known is KnownHeader.Host or KnownHeader.ContentLength || HopByHopHeaders.IsHopByHop(field.Name, connectionTokens, upgrading)
                || IsNamedByAnotherConnectionLine(request, field.Name, upgrading))
            {
                continue;
            }

            HeadWriter.WriteField(head, field.Name, field.Value);
        }

        // One framing, in one normalised form (RFC 9110 §8.6): "5, 5" or two equal Content-Length
        // lines the parser accepted reach the target as a single "Content-Length: 5", so no hop
        // behind us can read the body differently. Chunked bodies keep their Transfer-Encoding.
        if (request.Framing == BodyFraming.ContentLength)
        {
            Span<byte> length = stackalloc byte[20];
            Utf8Formatter.TryFormat(request.ContentLength, length, out int written);
            HeadWriter.WriteField(head, "Content-Length"u8, length[..written]);
        }

        if (upgrading)
        {
            HeadWriter.Write(head, "Connection: upgrade\r\n"u8);
        }
        else if (!_request.Pooled)
        {
            // Without an upstream pool the connection serves one exchange: say so, so the target
            // closes promptly and neither side holds an idle socket.
            ForwardedRequestWriter.WriteConnectionClose(head);
        }

        HeadWriter.WriteEndOfHead(head);
    }

    // RFC 9110 §7.6.1: every Connection field line names hop-by-hop fields, not only the first one
    // (GetValue returns the first). The first line is already checked by the caller.
    private static bool IsNamedByAnotherConnectionLine(RequestHead request, ReadOnlySpan<byte> name, bool upgrading)
    {
        bool first = true;
        for (int i = 0; i < request.HeaderCount; i++)
        {
            Http.HeaderField line = request.GetHeader(i);
            if (line.Known != KnownHeader.Connection)
            {
                continue;
            }

            if (first)
            {
                first = false;
                continue;
            }

            if (HopByHopHeaders.IsHopByHop(name, line.Value, upgrading))
            {
                return true;
            }
        }

        return false;
    }

    private static void WriteAbsoluteRequestLine(ArrayBufferWriter<byte> head, RequestHead request, ReadOnlySpan<byte> pathAndQuery)
    {
        HeadWriter.Write(head, request.MethodBytes);
        HeadWriter.Write(head, " http://"u8);
        ReadOnlySpan<byte> host = request.TargetHost;
        bool ipv6 = host.Contains((byte)':');
        if (ipv6)
        {
            HeadWriter.Write(head, "["u8);
        }

        HeadWriter.Write(head, host);
        if (ipv6)
        {
            HeadWriter.Write(head, "]"u8);
        }

        if (request.TargetPort != ForwardedRequestWriter.HttpDefaultPort)
        {
            Span<byte> port = head.GetSpan(6);
            port[0] = (byte)':';
            Utf8Formatter.TryFormat(request.TargetPort, port[1..], out int written);
            head.Advance(written + 1);
        }

        HeadWriter.Write(head, pathAndQuery.IsEmpty ? "/"u8 : pathAndQuery);
        HeadWriter.Write(head, " HTTP/1.1\r\n"u8);
    }

    /// <summary>
    /// Reports relayed bytes once a batch has built up; false when the package's cap or the credit
    /// pool ran out, and the request must be cut.
    /// </summary>
    private bool ReportTrafficBatch()
    {
        TrafficAccount? traffic = _request.Traffic;
        if (traffic is null)
        {
            return true;
        }

        long pending = _request.TrafficBase + _bytesIn + _bytesOut - traffic.Reported;
        return pending < TrafficAccount.BatchBytes || traffic.Report(pending);
    }

    private ValueTask<bool> FlushAsync() => ClientFlush.FlushAsync(_clientOutput, _aborted);

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
}
