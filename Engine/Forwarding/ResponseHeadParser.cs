using System.Buffers;
using System.Text;

using Engine.Http;

namespace Engine.Forwarding;

/// <summary>
/// Incremental parser for an HTTP/1.x response head from an upstream (RFC 9112 §2–§6), strict
/// where leniency would let a response be framed differently here and at the client.
/// </summary>
/// <remarks>
/// Unlike the request parser, this one consumes every byte it is offered up to the end of the
/// head, copying it into the <see cref="ResponseHead"/>'s buffer: the head has to be kept anyway
/// (its fields are re-emitted after hop-by-hop removal), and keeping a partial line there means
/// a head that arrives one byte at a time is still copied and scanned once, O(n) — the caller
/// never re-presents bytes. The head's size is bounded by <c>maxHeadSize</c>, so is the work.
/// <code>
/// var reader = new SequenceReader&lt;byte&gt;(read.Buffer);
/// ResponseParseStatus status = parser.Parse(ref reader, head, method);
/// input.AdvanceTo(reader.Position, read.Buffer.End);   // consumed == examined
/// </code>
/// On <see cref="ResponseParseStatus.Complete"/> the reader stands on the first body byte. For an
/// interim head (<see cref="ResponseHead.IsInterim"/>) relay it, <see cref="ResponseHead.Reset"/>
/// and parse again; cap the number of interim heads per exchange, since nothing in HTTP does.
/// </remarks>
internal sealed class ResponseHeadParser
{
    /// <summary>SocketsHttpHandler.MaxResponseHeadersLength's default (64 KiB); nginx's proxy_buffer_size (4–8 KiB) is tighter than real origins allow.</summary>
    public const int DefaultMaxHeadSize = 64 * 1024;

    /// <summary>Kestrel caps request fields at 100; responses carry more (one Set-Cookie per cookie), so 256, with the size limit behind it.</summary>
    public const int DefaultMaxHeaderCount = 256;

    // "HTTP/1.1 200\r\n\r\n": the smallest head this parser accepts.
    private const int MinimumHeadSize = 16;

    private readonly int _maxHeadSize;
    private readonly int _maxHeaderCount;

    public ResponseHeadParser(int maxHeadSize = DefaultMaxHeadSize, int maxHeaderCount = DefaultMaxHeaderCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHeadSize, MinimumHeadSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHeaderCount, 1);
        _maxHeadSize = maxHeadSize;
        _maxHeaderCount = maxHeaderCount;
    }

    public static ResponseHeadParser Default { get; } = new();

    private static ReadOnlySpan<byte> HttpSlash => "HTTP/"u8;

    private static ReadOnlySpan<byte> Http1Dot => "HTTP/1."u8;

    private static ReadOnlySpan<byte> Chunked => "chunked"u8;

    private static ReadOnlySpan<byte> Close => "close"u8;

    private static ReadOnlySpan<byte> KeepAliveToken => "keep-alive"u8;

    private static ReadOnlySpan<byte> UpgradeToken => "upgrade"u8;

    /// <summary>Feeds bytes to <paramref name="head"/>; <paramref name="method"/> must be the same for every call on one head.</summary>
    public ResponseParseStatus Parse(ref SequenceReader<byte> reader, ResponseHead head, RequestMethodKind method)
    {
        switch (head.Phase)
        {
            case ResponseHeadPhase.Complete:
                return ResponseParseStatus.Complete;
            case ResponseHeadPhase.Invalid:
                return ResponseParseStatus.Invalid;
        }

        while (!reader.End)
        {
            int budget = _maxHeadSize - head.Length;
            if (budget == 0)
            {
                return Fail(head, ResponseHeadError.HeadTooLarge);
            }

            ReadOnlySpan<byte> span = reader.UnreadSpan;
            if (span.Length > budget)
            {
                span = span[..budget];
            }

            int lineFeed = span.IndexOf((byte)'\n');
            int take = lineFeed < 0 ? span.Length : lineFeed + 1;
            head.Append(span[..take]);
            reader.Advance(take);
            if (lineFeed < 0)
            {
                continue;
            }

            ResponseHeadError error = ProcessLine(head, method);
            if (error != ResponseHeadError.None)
            {
                return Fail(head, error);
            }

            if (head.Phase == ResponseHeadPhase.Complete)
            {
                return ResponseParseStatus.Complete;
            }
        }

        return ResponseParseStatus.Incomplete;
    }

    private static ResponseParseStatus Fail(ResponseHead head, ResponseHeadError error)
    {
        head.Error = error;
        head.Phase = ResponseHeadPhase.Invalid;
        return ResponseParseStatus.Invalid;
    }

    private ResponseHeadError ProcessLine(ResponseHead head, RequestMethodKind method)
    {
        int start = head.LineStart;
        int length = head.Length - start;
        head.LineStart = head.Length;

        // RFC 9112 §2.2 lets a recipient accept a bare LF as a line end; a proxy that does, in front
        // of a client that does not, frames the message differently from it. Reject.
        ReadOnlySpan<byte> line = head.Bytes(start, length);
        if (length < 2 || line[^2] != (byte)'\r')
        {
            return ResponseHeadError.BareLineFeed;
        }

        line = line[..^2];
        if (head.Phase == ResponseHeadPhase.StatusLine)
        {
            head.Phase = ResponseHeadPhase.Fields;
            return ParseStatusLine(head, line, start);
        }

        if (line.IsEmpty)
        {
            return Complete(head, method);
        }

        if (HttpCharacters.IsWhitespace(line[0]))
        {
            // RFC 9112 §2.2 (whitespace before the first field) and §5.2 (obs-fold): a proxy either
            // rejects the message (502) or rewrites it; rejecting cannot be framed differently downstream.
            return head.HeaderCount == 0 ? ResponseHeadError.WhitespaceAfterStartLine : ResponseHeadError.ObsFold;
        }

        return ParseField(head, line, start);
    }

    // status-line = HTTP-version SP status-code SP [ reason-phrase ]   (RFC 9112 §4)
    private static ResponseHeadError ParseStatusLine(ResponseHead head, ReadOnlySpan<byte> line, int start)
    {
        if (!line.StartsWith(HttpSlash))
        {
            return ResponseHeadError.InvalidStatusLine;
        }

        if (line.Length < 9 || !line.StartsWith(Http1Dot) || line[7] is not ((byte)'0' or (byte)'1') || line[8] != (byte)' ')
        {
            // HTTP/2.0, HTTP/1.2, HTTP/1.10: not a version this hop can speak (RFC 9112 §2.3).
            return line.Length > 5 && char.IsAsciiDigit((char)line[5]) ? ResponseHeadError.UnsupportedVersion : ResponseHeadError.InvalidStatusLine;
        }

        if (line.Length < 12 || (line.Length > 12 && line[12] != (byte)' '))
        {
            return ResponseHeadError.InvalidStatusCode;
        }

        int hundreds = line[9] - '0', tens = line[10] - '0', units = line[11] - '0';
        if ((uint)hundreds > 9 || (uint)tens > 9 || (uint)units > 9)
        {
            return ResponseHeadError.InvalidStatusCode;
        }

        // RFC 9110 §15: every valid status code is within 100–599.
        int status = (hundreds * 100) + (tens * 10) + units;
        if (status is < 100 or > 599)
        {
            return ResponseHeadError.InvalidStatusCode;
        }

        // "HTTP/1.1 200" without the SP before an empty reason is not RFC 9112 but is what several
        // servers send; HttpClient and curl accept it, and nothing about framing depends on it.
        ReadOnlySpan<byte> reason = line.Length > 13 ? line[13..] : default;
        if (reason.ContainsAny(FieldSyntax.ControlsExceptTab))
        {
            return ResponseHeadError.InvalidReasonPhrase;
        }

        head.SetStatusLine(line[7] - '0', status, reason.IsEmpty ? start : start + 13, reason.Length);
        return ResponseHeadError.None;
    }

    // field-line = field-name ":" OWS field-value OWS   (RFC 9112 §5)
    private ResponseHeadError ParseField(ResponseHead head, ReadOnlySpan<byte> line, int start)
    {
        int colon = line.IndexOf((byte)':');
        if (colon < 0)
        {
            return ResponseHeadError.MissingColon;
        }

        ReadOnlySpan<byte> name = line[..colon];
        if (!FieldSyntax.IsToken(name))
        {
            // RFC 9112 §5.1 lets a proxy strip whitespace before the colon in a response; a recipient
            // that instead keeps it in the name would see another field, so rejecting is the safe side.
            return colon > 0 && HttpCharacters.IsWhitespace(name[^1]) ? ResponseHeadError.WhitespaceBeforeColon : ResponseHeadError.InvalidHeaderName;
        }

        if (head.HeaderCount >= _maxHeaderCount)
        {
            return ResponseHeadError.TooManyHeaders;
        }

        int valueStart = colon + 1;
        int valueEnd = line.Length;
        while (valueStart < valueEnd && HttpCharacters.IsWhitespace(line[valueStart]))
        {
            valueStart++;
        }

        while (valueEnd > valueStart && HttpCharacters.IsWhitespace(line[valueEnd - 1]))
        {
            valueEnd--;
        }

        ReadOnlySpan<byte> value = line[valueStart..valueEnd];
        if (value.ContainsAny(FieldSyntax.CrLfNul))
        {
            return ResponseHeadError.InvalidHeaderValue;
        }

        ForwardingHeader known = ForwardingHeaders.Identify(name);
        ResponseHeadError error = known switch
        {
            ForwardingHeader.ContentLength => ApplyContentLength(head, value),
            ForwardingHeader.TransferEncoding => ApplyTransferEncoding(head, value),
            ForwardingHeader.Connection => ApplyConnection(head, value, start + valueStart),
            _ => ResponseHeadError.None,
        };

        if (error == ResponseHeadError.None)
        {
            head.AddField(start, colon, start + valueStart, value.Length, known);
        }

        return error;
    }

    // Content-Length = 1*DIGIT (RFC 9110 §8.6). A list of one repeated value ("42, 42"), or repeated
    // lines that agree, may be taken as that value; anything else is invalid framing (RFC 9112 §6.3 item 5).
    private static ResponseHeadError ApplyContentLength(ResponseHead head, ReadOnlySpan<byte> value)
    {
        ReadOnlySpan<byte> rest = value;
        while (true)
        {
            // Element by element, so a trailing or doubled comma leaves an empty one, which is invalid here.
            int comma = rest.IndexOf((byte)',');
            ReadOnlySpan<byte> element = HttpCharacters.TrimWhitespace(comma < 0 ? rest : rest[..comma]);
            if (!DecimalDigits.TryParse(element, out long length))
            {
                return ResponseHeadError.InvalidContentLength;
            }

            if (head.ContentLength >= 0 && head.ContentLength != length)
            {
                return ResponseHeadError.ConflictingContentLength;
            }

            head.ContentLength = length;
            if (comma < 0)
            {
                break;
            }

            rest = rest[(comma + 1)..];
        }

        return ResponseHeadError.None;
    }

    // Transfer-Encoding = #transfer-coding; only whether chunked is final matters for framing
    // (RFC 9112 §6.3 item 4), and chunked must not be applied twice (§6.1).
    private static ResponseHeadError ApplyTransferEncoding(ResponseHead head, ReadOnlySpan<byte> value)
    {
        head.HasTransferEncoding = true;
        bool any = false;
        ReadOnlySpan<byte> list = value;
        while (!list.IsEmpty)
        {
            ReadOnlySpan<byte> element = FieldSyntax.NextElement(ref list);
            if (element.IsEmpty)
            {
                continue;
            }

            int parameters = element.IndexOf((byte)';');
            ReadOnlySpan<byte> coding = parameters < 0 ? element : HttpCharacters.TrimWhitespace(element[..parameters]);
            if (!FieldSyntax.IsToken(coding))
            {
                return ResponseHeadError.InvalidTransferEncoding;
            }

            bool chunked = Ascii.EqualsIgnoreCase(coding, Chunked);
            if (chunked && head.ChunkedSeen)
            {
                return ResponseHeadError.InvalidTransferEncoding;
            }

            head.ChunkedSeen |= chunked;
            head.ChunkedIsFinal = chunked;
            any = true;
        }

        return any ? ResponseHeadError.None : ResponseHeadError.InvalidTransferEncoding;
    }

    // Connection = #connection-option (RFC 9110 §7.6.1). Options that are not tokens cannot name a
    // field, so they are skipped rather than failing the response.
    private static ResponseHeadError ApplyConnection(ResponseHead head, ReadOnlySpan<byte> value, int valueOffset)
    {
        ConnectionOptions options = head.Connection;
        int position = 0;
        while (position <= value.Length)
        {
            int comma = value[position..].IndexOf((byte)',');
            int end = comma < 0 ? value.Length : position + comma;
            int first = position, last = end;
            while (first < last && HttpCharacters.IsWhitespace(value[first]))
            {
                first++;
            }

            while (last > first && HttpCharacters.IsWhitespace(value[last - 1]))
            {
                last--;
            }

            ReadOnlySpan<byte> option = value[first..last];
            if (FieldSyntax.IsToken(option))
            {
                if (Ascii.EqualsIgnoreCase(option, Close))
                {
                    options |= ConnectionOptions.Close;
                }
                else if (Ascii.EqualsIgnoreCase(option, KeepAliveToken))
                {
                    options |= ConnectionOptions.KeepAlive;
                }
                else if (Ascii.EqualsIgnoreCase(option, UpgradeToken))
                {
                    options |= ConnectionOptions.Upgrade;
                }
                else
                {
                    options |= ConnectionOptions.Other;
                    head.AddConnectionToken(valueOffset + first, option.Length);
                }
            }

            if (comma < 0)
            {
                break;
            }

            position = end + 1;
        }

        head.Connection = options;
        return ResponseHeadError.None;
    }

    private static ResponseHeadError Complete(ResponseHead head, RequestMethodKind method)
    {
        // RFC 9112 §6.3 item 3: both present "ought to be handled as an error"; nginx ≥ 1.23 rejects
        // such upstream responses too. Checked for every status so no such head is ever forwarded.
        if (head.HasTransferEncoding && head.ContentLength >= 0)
        {
            return ResponseHeadError.ContentLengthWithTransferEncoding;
        }

        int status = head.StatusCode;
        bool switches = false;
        ResponseBodyFraming framing;
        if (status == 101)
        {
            framing = ResponseBodyFraming.None;
            switches = true;
        }
        else if (method == RequestMethodKind.Head || status < 200 || status is 204 or 304)
        {
            framing = ResponseBodyFraming.None;                                     // §6.3 item 1
        }
        else if (method == RequestMethodKind.Connect && status < 300)
        {
            framing = ResponseBodyFraming.None;                                     // §6.3 item 2
            switches = true;
        }
        else if (head.HasTransferEncoding)
        {
            framing = head.ChunkedIsFinal ? ResponseBodyFraming.Chunked : ResponseBodyFraming.CloseDelimited;   // item 4
        }
        else
        {
            framing = head.ContentLength >= 0 ? ResponseBodyFraming.ContentLength : ResponseBodyFraming.CloseDelimited;   // items 6, 8
        }

        // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive". A
        // close-delimited body ends with the connection. §6.1: an HTTP/1.0 message carrying
        // Transfer-Encoding has faulty framing, so the connection closes after it.
        bool http11 = head.MinorVersion == 1;
        ConnectionOptions connection = head.Connection;
        head.KeepAlive = !switches
            && framing != ResponseBodyFraming.CloseDelimited
            && (connection & ConnectionOptions.Close) == 0
            && (http11 || (connection & ConnectionOptions.KeepAlive) != 0)
            && (http11 || !head.HasTransferEncoding);

        head.Framing = framing;
        head.SwitchesProtocols = switches;
        head.MarkFieldsListedInConnection();
        head.Phase = ResponseHeadPhase.Complete;
        return ResponseHeadError.None;
    }
}
