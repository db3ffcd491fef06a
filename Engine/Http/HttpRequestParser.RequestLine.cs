using System.Buffers;

namespace Engine.Http;

internal sealed partial class HttpRequestParser
{
    // Where the incremental request-line scan stands; offsets are from the start of the line.
    private LinePhase _phase;
    private int _methodEnd;
    private int _targetStart;
    private int _targetEnd;
    private int _versionStart;
    private byte _major;
    private byte _minor;

    private static ReadOnlySpan<byte> HttpSlash => "HTTP/"u8;

    private enum LinePhase : byte
    {
        Method = 0,
        Target,
        Version,
        Cr,
        Lf,
    }

    private ParseStatus ParseRequestLine(ref SequenceReader<byte> reader, RequestHead head)
    {
        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
        // Bounded by the request-line budget so a CRLF flood cannot hold the parser forever.
        while (_scanned == 0)
        {
            if (!reader.TryPeek(out byte first))
            {
                return ParseStatus.Incomplete;
            }

            if (first == HttpCharacters.LF)
            {
                return Reject(RejectReason.BareLF);
            }

            if (first != HttpCharacters.CR)
            {
                break;
            }

            if (!reader.TryPeek(1, out byte second))
            {
                return ParseStatus.Incomplete;
            }

            if (second != HttpCharacters.LF)
            {
                return Reject(RejectReason.BareCR);
            }

            _emptyLineBytes += 2;
            if (_emptyLineBytes > _limits.MaxRequestLineBytes)
            {
                return Reject(RejectReason.TooManyEmptyLines);
            }

            reader.Advance(2);
        }

        ReadOnlySequence<byte> unread = reader.UnreadSequence;
        RejectReason reason = ScanRequestLine(unread, out int lineLength);
        if (reason != RejectReason.None)
        {
            return Reject(reason);
        }

        if (lineLength < 0)
        {
            return ParseStatus.Incomplete;
        }

        // The head was reset, so the line lands at offset 0: the method starts the buffer.
        int offset = head.Append(unread.Slice(0, lineLength));
        ReadOnlySpan<byte> line = head.Bytes(offset, lineLength);
        KnownMethod method = KnownMethods.Lookup(line[.._methodEnd]);
        RequestVersion version = _minor == (byte)'1' ? RequestVersion.Http11 : RequestVersion.Http10;
        head.SetRequestLine(method, _methodEnd, offset + _targetStart, _targetEnd - _targetStart, version);

        reason = TargetParser.Parse(line[_targetStart.._targetEnd], method, out TargetParts parts);
        if (reason != RejectReason.None)
        {
            return Reject(reason);
        }

        head.SetTarget(parts);
        _requestLineLength = lineLength + 2;
        _scanned = 0;
        reader.Advance(lineLength + 2);
        return ParseStatus.Complete;
    }

    /// <summary>
    /// Validates the request line byte class by byte class as it arrives (RFC 9112 §3:
    /// method SP request-target SP HTTP-version CRLF, single spaces), so a bad line is refused
    /// before its CRLF and one-byte feeding stays linear. Returns the line length without CRLF,
    /// or -1 when more bytes are needed.
    /// </summary>
    private RejectReason ScanRequestLine(in ReadOnlySequence<byte> unread, out int lineLength)
    {
        lineLength = -1;
        long window = (long)_limits.MaxRequestLineBytes + 2 - _scanned;
        ReadOnlySequence<byte> rest = unread.Slice(_scanned);
        bool truncated = rest.Length > window;
        if (truncated)
        {
            rest = rest.Slice(0, window);
        }

        int position = _scanned;
        foreach (ReadOnlyMemory<byte> memory in rest)
        {
            ReadOnlySpan<byte> span = memory.Span;
            int i = 0;
            while (i < span.Length)
            {
                switch (_phase)
                {
                    case LinePhase.Method:
                        {
                            int run = span[i..].IndexOfAnyExcept(HttpCharacters.Token);
                            if (run < 0)
                            {
                                i = span.Length;
                                break;
                            }

                            i += run;
                            byte b = span[i];
                            int at = position + i;
                            if (b != HttpCharacters.SP || at == 0)
                            {
                                return b is HttpCharacters.SP or HttpCharacters.HTAB or HttpCharacters.CR or HttpCharacters.LF
                                    ? RejectReason.InvalidRequestLine
                                    : RejectReason.InvalidMethod;
                            }

                            _methodEnd = at;
                            _targetStart = at + 1;
                            _phase = LinePhase.Target;
                            i++;
                            break;
                        }

                    case LinePhase.Target:
                        {
                            int run = span[i..].IndexOfAnyExcept(HttpCharacters.Target);
                            if (run < 0)
                            {
                                i = span.Length;
                                break;
                            }

                            i += run;
                            byte b = span[i];
                            int at = position + i;
                            if (b != HttpCharacters.SP)
                            {
                                // CR or LF here is an HTTP/0.9 line without a version.
                                return b is HttpCharacters.HTAB or HttpCharacters.CR or HttpCharacters.LF
                                    ? RejectReason.InvalidRequestLine
                                    : RejectReason.InvalidTarget;
                            }

                            if (at == _targetStart)
                            {
                                return RejectReason.InvalidRequestLine;
                            }

                            _targetEnd = at;
                            _versionStart = at + 1;
                            _phase = LinePhase.Version;
                            i++;
                            break;
                        }

                    case LinePhase.Version:
                        {
                            byte b = span[i];
                            int k = position + i - _versionStart;
                            if (!VersionByteMatches(k, b))
                            {
                                // A non-'H' where the version starts means a space inside the target or a missing version.
                                return k == 0 && (b | 0x20) != 'h' ? RejectReason.InvalidRequestLine : RejectReason.InvalidVersion;
                            }

                            if (k == 5)
                            {
                                _major = b;
                            }
                            else if (k == 7)
                            {
                                _minor = b;
                                _phase = LinePhase.Cr;

                                // RFC 9110 §15.6.6: 505 for a major version we do not speak; only 1.0 and 1.1 otherwise.
                                if (_major != (byte)'1')
                                {
                                    return RejectReason.UnsupportedVersion;
                                }

                                if (_minor is not ((byte)'0' or (byte)'1'))
                                {
                                    return RejectReason.InvalidVersion;
                                }
                            }

                            i++;
                            break;
                        }

                    case LinePhase.Cr:
                        {
                            byte b = span[i];
                            if (b != HttpCharacters.CR)
                            {
                                return b == HttpCharacters.LF ? RejectReason.BareLF
                                    : HttpCharacters.IsWhitespace(b) ? RejectReason.InvalidRequestLine
                                    : RejectReason.InvalidVersion;
                            }

                            _phase = LinePhase.Lf;
                            i++;
                            break;
                        }

                    default:
                        if (span[i] != HttpCharacters.LF)
                        {
                            return RejectReason.BareCR;
                        }

                        lineLength = position + i - 1;
                        return RejectReason.None;
                }
            }

            position += span.Length;
        }

        _scanned = position;
        return truncated ? RejectReason.RequestLineTooLong : RejectReason.None;
    }

    /// <summary>HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.</summary>
    private static bool VersionByteMatches(int index, byte b) => index switch
    {
        < 5 => b == HttpSlash[index],
        5 or 7 => HttpCharacters.IsDigit(b),
        _ => b == (byte)'.',
    };
}
