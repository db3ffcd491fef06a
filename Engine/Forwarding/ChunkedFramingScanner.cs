using System.Buffers;

using Engine.Http;

namespace Engine.Forwarding;

/// <summary>
/// Follows the framing of a chunked body (RFC 9112 §7.1) without decoding it, so a proxy can relay
/// the bytes exactly as received and still know where the message ends. Feed it the bytes in any
/// split; it counts how many belong to the body (sizes, extensions, data, CRLFs, last-chunk,
/// trailer section) and stops on the last byte of the message, leaving what follows (the next
/// response on a kept-alive connection, or a pipelined request) untouched. One instance per
/// connection, <see cref="Reset"/> per message; no allocation. The same scanner frames request
/// bodies (client to target) and response bodies (target to client), and it is what the llhttp and
/// malformed-request conformance vectors run against (Engine.Tests/Http/HttpTestDriver).
/// </summary>
/// <remarks>
/// Strict where request smuggling lives: a chunk size is 1*HEXDIG with no sign, prefix or
/// whitespace unless an extension follows; every line ends in CRLF (a bare LF or CR is an
/// error, RFC 9112 §2.2); data must be followed by CRLF. Extensions are checked against their
/// grammar (lax extension parsing was CVE-2021-22960) and trailer fields against the field-line
/// rules (no obs-fold, no whitespace before the colon), then relayed unchanged; both are bounded
/// per message, since the proxy cannot know what the next parser makes of them (the 2024
/// chunk-extension smuggling reports relied on exactly that).
/// </remarks>
internal sealed class ChunkedFramingScanner
{
    /// <summary>
    /// Chunk-extension bytes summed over one message (RFC 9112 §7.1.1 asks recipients to bound them),
    /// from the first byte after the size digits to the line's CR. 16 KiB: Node.js
    /// kMaxChunkExtensionsSize, added for CVE-2024-22019.
    /// </summary>
    public const int DefaultMaxExtensionBytes = 16 * 1024;

    /// <summary>
    /// Trailer section, field lines, their CRLFs and the final CRLF included. 32 KiB: Kestrel counts
    /// trailers against MaxRequestHeadersTotalSize (32 KiB); the section is relayed, never stored.
    /// </summary>
    public const int DefaultMaxTrailerBytes = 32 * 1024;

    // 16 hex digits already exceed long.MaxValue; more can only be leading zeros, which bound nothing.
    private const int MaxSizeDigits = 16;

    private readonly int _maxExtensionBytes;
    private readonly int _maxTrailerBytes;
    private State _state;
    private long _chunkSize;
    private int _sizeDigits;
    private int _extensionBytes;
    private int _trailerBytes;

    // Response bodies only: the current trailer field's name (as far as the longest engine field, plus
    // one to tell a longer name), so a target's X-Proxy-Error & co. in its trailers are refused.
    private readonly byte[]? _trailerName;
    private int _trailerNameLength;

    /// <param name="refuseEngineTrailers">
    /// A target's response: a trailer field named as one of the engine's own error fields
    /// (X-Proxy-Error, X-Proxy-Detail, X-Proxy-Correlation-Id) breaks the framing
    /// (<see cref="ChunkedFramingError.EngineFieldInTrailer"/>), as errors.md has it that forwarded
    /// responses never carry them, whatever the target sent; the head's are stripped, and a trailer
    /// line cannot be dropped from bytes relayed as received.
    /// </param>
    public ChunkedFramingScanner(int maxExtensionBytes = DefaultMaxExtensionBytes, int maxTrailerBytes = DefaultMaxTrailerBytes, bool refuseEngineTrailers = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxExtensionBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTrailerBytes, 2);
        _maxExtensionBytes = maxExtensionBytes;
        _maxTrailerBytes = maxTrailerBytes;
        _trailerName = refuseEngineTrailers ? new byte[LongestEngineField + 1] : null;
    }

    // "x-proxy-correlation-id"
    private const int LongestEngineField = 22;

    private enum State : byte
    {
        SizeFirstDigit,
        Size,
        SizeWhitespace,
        ExtensionBeforeName,
        ExtensionName,
        ExtensionAfterName,
        ExtensionBeforeValue,
        ExtensionToken,
        ExtensionQuoted,
        ExtensionQuotedPair,
        ExtensionAfterValue,
        SizeLineFeed,
        Data,
        DataCarriageReturn,
        DataLineFeed,
        TrailerLineStart,
        TrailerName,
        TrailerNameWhitespace,
        TrailerValue,
        TrailerLineFeed,
        FinalLineFeed,
        Complete,
        Invalid,
    }

    /// <summary>Bytes of the message scanned so far, framing included.</summary>
    public long Length { get; private set; }

    /// <summary>Bytes of chunk data (the content) scanned so far.</summary>
    public long DataLength { get; private set; }

    public ChunkedFramingError Error { get; private set; }

    public bool IsComplete => _state == State.Complete;

    public void Reset()
    {
        _state = State.SizeFirstDigit;
        _chunkSize = 0;
        _sizeDigits = 0;
        _extensionBytes = 0;
        _trailerBytes = 0;
        Length = 0;
        DataLength = 0;
        Error = ChunkedFramingError.None;
    }

    /// <summary>Scans the reader's unread bytes, advancing it past those that belong to the body.</summary>
    public ChunkedScanStatus Scan(ref SequenceReader<byte> reader)
    {
        while (!reader.End)
        {
            ChunkedScanStatus status = Scan(reader.UnreadSpan, out int consumed);
            reader.Advance(consumed);
            if (status != ChunkedScanStatus.NeedMoreData)
            {
                return status;
            }
        }

        return _state switch
        {
            State.Complete => ChunkedScanStatus.Complete,
            State.Invalid => ChunkedScanStatus.Invalid,
            _ => ChunkedScanStatus.NeedMoreData,
        };
    }

    /// <summary>
    /// Scans <paramref name="data"/>; <paramref name="consumed"/> is how many of its bytes belong to
    /// the body (all of them unless the message ended or the framing broke inside it).
    /// </summary>
    public ChunkedScanStatus Scan(ReadOnlySpan<byte> data, out int consumed)
    {
        int i = 0;
        while (i < data.Length && _state < State.Complete)
        {
            if (_state == State.Data)
            {
                // The body's bulk: skip it whole instead of stepping the state machine per byte.
                int skip = (int)Math.Min(_chunkSize, data.Length - i);
                i += skip;
                _chunkSize -= skip;
                DataLength += skip;
                if (_chunkSize == 0)
                {
                    _state = State.DataCarriageReturn;
                }

                continue;
            }

            ChunkedFramingError error = Step(data[i]);
            if (error != ChunkedFramingError.None)
            {
                Error = error;
                _state = State.Invalid;
                break;
            }

            i++;
        }

        consumed = i;
        Length += i;
        return _state switch
        {
            State.Complete => ChunkedScanStatus.Complete,
            State.Invalid => ChunkedScanStatus.Invalid,
            _ => ChunkedScanStatus.NeedMoreData,
        };
    }

    private ChunkedFramingError Step(byte b)
    {
        if (_state is >= State.SizeWhitespace and <= State.ExtensionAfterValue && b != (byte)'\r' && ++_extensionBytes > _maxExtensionBytes)
        {
            return ChunkedFramingError.ExtensionTooLong;
        }

        if (_state is >= State.TrailerLineStart and <= State.FinalLineFeed && ++_trailerBytes > _maxTrailerBytes)
        {
            return ChunkedFramingError.TrailerTooLarge;
        }

        if (b == (byte)'\n' && _state is not (State.SizeLineFeed or State.TrailerLineFeed or State.FinalLineFeed or State.DataCarriageReturn or State.DataLineFeed))
        {
            // RFC 9112 §2.2: a line ends in CRLF; an LF alone is where parsers disagree.
            return ChunkedFramingError.BareLineFeed;
        }

        switch (_state)
        {
            // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; chunk-size = 1*HEXDIG
            case State.SizeFirstDigit:
                if (!TryHex(b, out int first))
                {
                    return ChunkedFramingError.InvalidChunkSize;
                }

                _chunkSize = first;
                _sizeDigits = 1;
                _state = State.Size;
                return ChunkedFramingError.None;

            case State.Size:
                if (TryHex(b, out int digit))
                {
                    if (++_sizeDigits > MaxSizeDigits || _chunkSize > (long.MaxValue >> 4))
                    {
                        return ChunkedFramingError.ChunkSizeOverflow;
                    }

                    _chunkSize = (_chunkSize << 4) | (uint)digit;
                    return ChunkedFramingError.None;
                }

                // From here every byte up to the CR counts against the message's extension budget.
                if (b == (byte)'\r')
                {
                    return Go(State.SizeLineFeed);
                }

                if (++_extensionBytes > _maxExtensionBytes)
                {
                    return ChunkedFramingError.ExtensionTooLong;
                }

                return b switch
                {
                    (byte)';' => Go(State.ExtensionBeforeName),
                    (byte)' ' or (byte)'\t' => Go(State.SizeWhitespace),
                    _ => ChunkedFramingError.InvalidChunkSize,
                };

            // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ): whitespace
            // after the size is only BWS before a ";".
            case State.SizeWhitespace:
                return b switch
                {
                    (byte)' ' or (byte)'\t' => ChunkedFramingError.None,
                    (byte)';' => Go(State.ExtensionBeforeName),
                    _ => ChunkedFramingError.WhitespaceWithoutExtension,
                };

            // chunk-ext-name = token
            case State.ExtensionBeforeName:
                return IsWhitespace(b) ? ChunkedFramingError.None
                    : HttpCharacters.Token.Contains(b) ? Go(State.ExtensionName)
                    : ChunkedFramingError.InvalidExtension;

            case State.ExtensionName:
                return HttpCharacters.Token.Contains(b) ? ChunkedFramingError.None : AfterExtensionName(b);

            case State.ExtensionAfterName:
                return IsWhitespace(b) ? ChunkedFramingError.None : AfterExtensionName(b);

            // chunk-ext-val = token / quoted-string
            case State.ExtensionBeforeValue:
                return IsWhitespace(b) ? ChunkedFramingError.None
                    : b == (byte)'"' ? Go(State.ExtensionQuoted)
                    : HttpCharacters.Token.Contains(b) ? Go(State.ExtensionToken)
                    : ChunkedFramingError.InvalidExtension;

            case State.ExtensionToken:
                return HttpCharacters.Token.Contains(b) ? ChunkedFramingError.None : AfterExtensionValue(b);

            // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4): HTAB, SP,
            // VCHAR and obs-text, never another control or DEL; a CR inside leaves it unterminated.
            case State.ExtensionQuoted:
                return b == (byte)'"' ? Go(State.ExtensionAfterValue)
                    : b == (byte)'\\' ? Go(State.ExtensionQuotedPair)
                    : IsQuotedText(b) ? ChunkedFramingError.None
                    : ChunkedFramingError.InvalidExtension;

            case State.ExtensionQuotedPair:
                return IsQuotedText(b) ? Go(State.ExtensionQuoted) : ChunkedFramingError.InvalidExtension;

            case State.ExtensionAfterValue:
                return IsWhitespace(b) ? ChunkedFramingError.None : AfterExtensionValue(b);

            case State.SizeLineFeed:
                if (b != (byte)'\n')
                {
                    return ChunkedFramingError.ExpectedLineFeed;
                }

                // last-chunk = 1*("0") [ chunk-ext ] CRLF, then trailer-section CRLF.
                return Go(_chunkSize == 0 ? State.TrailerLineStart : State.Data);

            // chunk-data is followed by exactly CRLF, judged byte by byte so "5\r\nABCDE0..." is
            // refused at the '0' (the size lied).
            case State.DataCarriageReturn:
                return b == (byte)'\r' ? Go(State.DataLineFeed) : ChunkedFramingError.MissingChunkTerminator;

            case State.DataLineFeed:
                return b == (byte)'\n' ? Go(State.SizeFirstDigit) : ChunkedFramingError.MissingChunkTerminator;

            // trailer-section = *( field-line CRLF ): field lines as in a head (RFC 9112 §5), obs-fold
            // and whitespace before the colon rejected (§5.1, §5.2).
            case State.TrailerLineStart:
                if (b != (byte)'\r' && !IsWhitespace(b) && HttpCharacters.Token.Contains(b))
                {
                    _trailerNameLength = 0;
                    RememberTrailerName(b);
                }

                return b == (byte)'\r' ? Go(State.FinalLineFeed)
                    : IsWhitespace(b) ? ChunkedFramingError.TrailerObsFold
                    : HttpCharacters.Token.Contains(b) ? Go(State.TrailerName)
                    : ChunkedFramingError.InvalidTrailerName;

            case State.TrailerName:
                if (b == (byte)':')
                {
                    return IsEngineField() ? ChunkedFramingError.EngineFieldInTrailer : Go(State.TrailerValue);
                }

                if (HttpCharacters.Token.Contains(b))
                {
                    RememberTrailerName(b);
                    return ChunkedFramingError.None;
                }

                return IsWhitespace(b) ? Go(State.TrailerNameWhitespace) : ChunkedFramingError.InvalidTrailerName;

            case State.TrailerNameWhitespace:
                return b == (byte)':' ? ChunkedFramingError.TrailerWhitespaceBeforeColon
                    : IsWhitespace(b) ? ChunkedFramingError.None
                    : ChunkedFramingError.InvalidTrailerName;

            case State.TrailerValue:
                return b == (byte)'\r' ? Go(State.TrailerLineFeed)
                    : HttpCharacters.FieldValue.Contains(b) ? ChunkedFramingError.None
                    : ChunkedFramingError.InvalidTrailerValue;

            case State.TrailerLineFeed:
                return b == (byte)'\n' ? Go(State.TrailerLineStart) : ChunkedFramingError.ExpectedLineFeed;

            case State.FinalLineFeed:
                return b == (byte)'\n' ? Go(State.Complete) : ChunkedFramingError.ExpectedLineFeed;

            default:
                return ChunkedFramingError.None;
        }
    }

    private void RememberTrailerName(byte b)
    {
        if (_trailerName is not null && _trailerNameLength < _trailerName.Length)
        {
            _trailerName[_trailerNameLength++] = b;
        }
    }

    private bool IsEngineField() =>
        _trailerName is not null && _trailerNameLength <= LongestEngineField
        && ForwardingHeaders.Identify(_trailerName.AsSpan(0, _trailerNameLength)) == ForwardingHeader.EngineErrorField;

    /// <summary>After a name: BWS, "=" and a value, another extension, or the line's end.</summary>
    private ChunkedFramingError AfterExtensionName(byte b) => b switch
    {
        (byte)' ' or (byte)'\t' => Go(State.ExtensionAfterName),
        (byte)'=' => Go(State.ExtensionBeforeValue),
        (byte)';' => Go(State.ExtensionBeforeName),
        (byte)'\r' => Go(State.SizeLineFeed),
        _ => ChunkedFramingError.InvalidExtension,
    };

    /// <summary>After a value: BWS, another extension, or the line's end.</summary>
    private ChunkedFramingError AfterExtensionValue(byte b) => b switch
    {
        (byte)' ' or (byte)'\t' => Go(State.ExtensionAfterValue),
        (byte)';' => Go(State.ExtensionBeforeName),
        (byte)'\r' => Go(State.SizeLineFeed),
        _ => ChunkedFramingError.InvalidExtension,
    };

    private ChunkedFramingError Go(State next)
    {
        _state = next;
        return ChunkedFramingError.None;
    }

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t';

    private static bool IsQuotedText(byte b) => b == (byte)'\t' || (b >= 0x20 && b != 0x7F);

    private static bool TryHex(byte b, out int value)
    {
        value = HttpCharacters.HexValue(b);
        return value >= 0;
    }
}
