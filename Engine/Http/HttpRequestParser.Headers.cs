using System.Buffers;

namespace Engine.Http;

internal sealed partial class HttpRequestParser
{
    private ParseStatus ParseHeaders(ref SequenceReader<byte> reader, RequestHead head)
    {
        while (true)
        {
            if (_scanned == 0)
            {
                if (!reader.TryPeek(out byte first))
                {
                    return ParseStatus.Incomplete;
                }

                // RFC 9112 §2.2 (whitespace line after the request line) and §5.2 (obs-fold): a
                // proxy may not forward either, and unfolding invites smuggling, so reject.
                if (HttpCharacters.IsWhitespace(first))
                {
                    return Reject(head.HeaderCount == 0 ? RejectReason.WhitespaceAfterRequestLine : RejectReason.ObsFold);
                }
            }

            int budget = _limits.MaxRequestHeadBytes - _headBytes - 2;
            if (budget < 0)
            {
                return Reject(RejectReason.HeadTooLarge);
            }

            ReadOnlySequence<byte> unread = reader.UnreadSequence;
            LineScan scan = LineScanner.Find(unread, ref _scanned, budget, out int length);
            if (scan != LineScan.Found)
            {
                return scan switch
                {
                    LineScan.NeedMore => ParseStatus.Incomplete,
                    LineScan.TooLong => Reject(RejectReason.HeadTooLarge),
                    LineScan.BareCR => Reject(RejectReason.BareCR),
                    _ => Reject(RejectReason.BareLF),
                };
            }

            _scanned = 0;
            if (length == 0)
            {
                reader.Advance(2);
                _headBytes += 2;
                return FinishHead(head);
            }

            if (head.HeaderCount >= _limits.MaxHeaderCount)
            {
                return Reject(RejectReason.TooManyHeaders);
            }

            int offset = head.Append(unread.Slice(0, length));
            RejectReason reason = FieldLineParser.Parse(head.Bytes(offset, length), out int nameLength, out int valueOffset, out int valueLength);
            if (reason != RejectReason.None)
            {
                return Reject(reason);
            }

            KnownHeader known = KnownHeaders.Lookup(head.Bytes(offset, nameLength));
            if (known == KnownHeader.None && KnownHeaders.FoldsToFramingOrHopByHop(head.Bytes(offset, nameLength)))
            {
                return Reject(RejectReason.UnderscoreFramingName);
            }

            if (known != KnownHeader.None)
            {
                reason = ApplyHeader(head, known, head.Bytes(offset + valueOffset, valueLength));
                if (reason != RejectReason.None)
                {
                    return Reject(reason);
                }
            }

            head.AddHeader(new HeaderEntry(offset, nameLength, offset + valueOffset, valueLength, known));
            reader.Advance(length + 2);
            _headBytes += length + 2;
        }
    }

    /// <summary>
    /// Judges the fields that decide framing and routing as each line arrives, so a conflict is
    /// refused at the line that causes it (RFC 9112 §6.1, §6.3; RFC 9110 §8.6).
    /// </summary>
    private static RejectReason ApplyHeader(RequestHead head, KnownHeader known, ReadOnlySpan<byte> value)
    {
        switch (known)
        {
            case KnownHeader.Host:
                // RFC 9112 §3.2: more than one Host, or an invalid one, MUST get 400.
                if (head.Has(KnownHeader.Host))
                {
                    return RejectReason.DuplicateHost;
                }

                return AuthorityParser.Parse(value, allowEmptyHost: true, out _, out _, out _, out _) == RejectReason.None
                    ? RejectReason.None
                    : RejectReason.InvalidHost;

            case KnownHeader.ContentLength:
                return ApplyContentLength(head, value);

            case KnownHeader.TransferEncoding:
                return ApplyTransferEncoding(head, value);

            case KnownHeader.Connection:
                head.ConnectionOptions |= ParseConnectionOptions(value);
                return RejectReason.None;

            case KnownHeader.Expect:
                // RFC 9110 §10.1.1; members compare case-insensitively.
                while (AsciiBytes.NextListMember(ref value, out ReadOnlySpan<byte> expectation))
                {
                    if (AsciiBytes.EqualsLower(expectation, "100-continue"u8))
                    {
                        head.ExpectContinue = true;
                    }
                }

                return RejectReason.None;

            default:
                return RejectReason.None;
        }
    }

    private static RejectReason ApplyContentLength(RequestHead head, ReadOnlySpan<byte> value)
    {
        // RFC 9112 §6.1: with both present the framing is ambiguous (CL.TE / TE.CL smuggling).
        if (head.Has(KnownHeader.TransferEncoding))
        {
            return RejectReason.ContentLengthAndTransferEncoding;
        }

        // RFC 9110 §8.6: 1*DIGIT. A list ("5, 5") is tolerated only when every member agrees;
        // empty members, signs and anything else are refused (an empty Content-Length forwarded
        // as-is was CVE-2023-40225).
        long length = -1;
        while (true)
        {
            int comma = value.IndexOf((byte)',');
            ReadOnlySpan<byte> member = HttpCharacters.TrimWhitespace(comma < 0 ? value : value[..comma]);
            if (!DecimalDigits.TryParse(member, out long parsed))
            {
                return RejectReason.InvalidContentLength;
            }

            if (length >= 0 && parsed != length)
            {
                return RejectReason.ConflictingContentLength;
            }

            length = parsed;
            if (comma < 0)
            {
                break;
            }

            value = value[(comma + 1)..];
        }

        if (head.HasContentLength && head.ContentLength != length)
        {
            return RejectReason.ConflictingContentLength;
        }

        head.HasContentLength = true;
        head.ContentLength = length;
        return RejectReason.None;
    }

    private static RejectReason ApplyTransferEncoding(RequestHead head, ReadOnlySpan<byte> value)
    {
        if (head.HasContentLength)
        {
            return RejectReason.ContentLengthAndTransferEncoding;
        }

        // RFC 9112 §6.1: an HTTP/1.0 recipient cannot be trusted to understand chunked; the
        // framing would be ambiguous downstream.
        if (head.Version == RequestVersion.Http10)
        {
            return RejectReason.TransferEncodingHttp10;
        }

        while (AsciiBytes.NextListMember(ref value, out ReadOnlySpan<byte> coding))
        {
            bool chunked = AsciiBytes.EqualsLower(coding, "chunked"u8);
            if (!chunked && !IsKnownCoding(coding))
            {
                // RFC 9112 §6.1: a transfer coding we do not understand SHOULD get 501.
                return RejectReason.UnknownTransferCoding;
            }

            // RFC 9112 §6.1: chunked is applied once and last; anything after it is unframeable.
            if (head.ChunkedSeen)
            {
                return chunked ? RejectReason.ChunkedTwice : RejectReason.TransferEncodingNotChunkedLast;
            }

            head.ChunkedSeen = chunked;
            head.TransferCodings++;
        }

        return RejectReason.None;
    }

    /// <summary>
    /// Codings of the IANA registry (RFC 9112 §7) plus "identity", which RFC 2616 defined; knowing
    /// it makes "chunked, identity" a 400 (chunked not last) rather than a 501.
    /// </summary>
    private static bool IsKnownCoding(ReadOnlySpan<byte> coding) => coding.Length switch
    {
        4 => AsciiBytes.EqualsLower(coding, "gzip"u8),
        6 => AsciiBytes.EqualsLower(coding, "x-gzip"u8),
        7 => AsciiBytes.EqualsLower(coding, "deflate"u8),
        8 => AsciiBytes.EqualsLower(coding, "compress"u8) || AsciiBytes.EqualsLower(coding, "identity"u8),
        10 => AsciiBytes.EqualsLower(coding, "x-compress"u8),
        _ => false,
    };

    private static ConnectionOptions ParseConnectionOptions(ReadOnlySpan<byte> value)
    {
        ConnectionOptions options = ConnectionOptions.None;
        while (AsciiBytes.NextListMember(ref value, out ReadOnlySpan<byte> option))
        {
            options |= option.Length switch
            {
                5 when AsciiBytes.EqualsLower(option, "close"u8) => ConnectionOptions.Close,
                7 when AsciiBytes.EqualsLower(option, "upgrade"u8) => ConnectionOptions.Upgrade,
                10 when AsciiBytes.EqualsLower(option, "keep-alive"u8) => ConnectionOptions.KeepAlive,
                _ => ConnectionOptions.Other,
            };
        }

        return options;
    }

    private ParseStatus FinishHead(RequestHead head)
    {
        head.HeadLength = _requestLineLength + _headBytes;
        bool http11 = head.Version == RequestVersion.Http11;

        // RFC 9112 §3.2: an HTTP/1.1 request without Host MUST get 400 (policy switch for test corpora).
        if (_limits.RequireHost && http11 && !head.Has(KnownHeader.Host))
        {
            return Reject(RejectReason.MissingHost);
        }

        if (head.Has(KnownHeader.TransferEncoding))
        {
            // RFC 9112 §6.3 rule 4: a request whose final coding is not chunked MUST get 400.
            if (!head.ChunkedSeen)
            {
                return Reject(RejectReason.TransferEncodingNotChunkedLast);
            }

            head.Framing = BodyFraming.Chunked;
        }
        else if (head.HasContentLength)
        {
            head.Framing = BodyFraming.ContentLength;
        }

        // RFC 9110 §9.3.6: a CONNECT request has no content; what follows the head is tunnel data.
        // Framing fields were still validated above, so a malformed one is refused, not ignored.
        if (head.Method == KnownMethod.Connect)
        {
            head.Framing = BodyFraming.None;
            head.ContentLength = 0;
        }

        ConnectionOptions options = head.ConnectionOptions;
        head.KeepAlive = (options & ConnectionOptions.Close) == 0
            && (http11 || (options & ConnectionOptions.KeepAlive) != 0);

        // RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored; §10.1.1 likewise for 100-continue.
        head.IsUpgrade = http11 && (options & ConnectionOptions.Upgrade) != 0 && head.Has(KnownHeader.Upgrade);
        head.ExpectContinue &= http11;

        _state = head.KeepAlive ? State.Idle : State.Closed;
        return ParseStatus.Complete;
    }
}
