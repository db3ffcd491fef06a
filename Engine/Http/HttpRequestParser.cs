using System.Buffers;
using System.Runtime.CompilerServices;

namespace Engine.Http;

/// <summary>
/// Strict HTTP/1.1 request-head parser (RFC 9112) over <see cref="SequenceReader{T}"/>. One per
/// connection; it keeps its place between calls, consumes only complete lines (copying them into
/// the <see cref="RequestHead"/>), and rejects an invalid line as soon as it can be judged.
/// Drive it as: ParseHead until Complete → the body framed by the head (Content-Length counted down,
/// chunked through <see cref="Forwarding.ChunkedFramingScanner"/>) → ParseHead again.
/// Stop after a CONNECT or an upgrade: what follows is not HTTP/1.
/// </summary>
internal sealed partial class HttpRequestParser
{
    private readonly HttpParserLimits _limits;
    private State _state;
    private int _scanned;
    private int _emptyLineBytes;
    private int _requestLineLength;
    private int _headBytes;

    public HttpParserLimits Limits => _limits;

    public HttpRequestParser(HttpParserLimits? limits = null)
    {
        _limits = limits ?? HttpParserLimits.Default;
    }

    private enum State : byte
    {
        /// <summary>Between messages: the next call resets the head.</summary>
        Idle = 0,
        RequestLine,
        Headers,

        /// <summary>The last message closes the connection (RFC 9112 §9.6): nothing more is parsed.</summary>
        Closed,
        Failed,
    }

    /// <summary>Why the last <see cref="ParseStatus.Rejected"/> happened.</summary>
    public RejectReason RejectReason { get; private set; }

    /// <summary>
    /// True once part of a request head was consumed or examined. With no unconsumed bytes left
    /// and this false, the connection stands cleanly between requests.
    /// </summary>
    public bool InProgress => _state == State.Headers || (_state == State.RequestLine && _scanned > 0);

    /// <summary>Forgets everything, for reusing the parser on another connection.</summary>
    public void Reset()
    {
        _state = State.Idle;
        RejectReason = RejectReason.None;
        _scanned = 0;
        _emptyLineBytes = 0;
    }

    /// <summary>
    /// Parses as much of a request head as <paramref name="reader"/> holds. On Incomplete, complete
    /// lines were consumed: call again with the unconsumed bytes plus more. On Complete the reader
    /// stands at the first body byte and <paramref name="head"/> is filled in.
    /// </summary>
    public ParseStatus ParseHead(ref SequenceReader<byte> reader, RequestHead head)
    {
        switch (_state)
        {
            case State.Failed:
                return ParseStatus.Rejected;
            case State.Closed:
                return reader.End ? ParseStatus.Incomplete : Reject(RejectReason.DataAfterClose);
            case State.Idle:
                head.Reset();
                StartMessage();
                break;
        }

        if (_state == State.RequestLine)
        {
            ParseStatus status = ParseRequestLine(ref reader, head);
            if (status != ParseStatus.Complete)
            {
                return status;
            }

            _state = State.Headers;
        }

        return ParseHeaders(ref reader, head);
    }

    private void StartMessage()
    {
        _state = State.RequestLine;
        _scanned = 0;
        _emptyLineBytes = 0;
        _requestLineLength = 0;
        _headBytes = 0;
        _phase = LinePhase.Method;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ParseStatus Reject(RejectReason reason)
    {
        RejectReason = reason;
        _state = State.Failed;
        return ParseStatus.Rejected;
    }
}
