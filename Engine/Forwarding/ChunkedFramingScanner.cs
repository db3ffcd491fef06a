using System.Buffers;

using Engine.Http;

namespace Engine.Forwarding;

/// <summary>
/// Follows the framing of a chunked body (RFC 9112 §7.1) without decoding it, so a proxy can relay
/// the bytes exactly as received and still know where the message ends. Feed it the bytes in any
/// split; it counts how many belong to the body (sizes, extensions, data, CRLFs, last-chunk,
/// trailer section) and stops on the last byte of the message, leaving what follows (the next
/// response on a kept-alive connection, or a pipelined request) untouched. One instance per
/// connection, <see cref="Reset"/> per message; no allocation.
/// </summary>
/// <remarks>
/// Strict where request smuggling lives: a chunk size is 1*HEXDIG with no sign, prefix or
/// whitespace unless an extension follows; every line ends in CRLF (a bare LF or CR is an
/// error, RFC 9112 §2.2); data must be followed by CRLF. Extensions and the trailer section are
/// passed through unread but bounded, since the proxy cannot know what the next parser makes of
/// them (the 2024 chunk-extension smuggling reports relied on exactly that).
/// </remarks>
internal sealed class ChunkedFramingScanner
{
    /// <summary>Per chunk line. Node.js bounds extensions (CVE-2024-22019, 16 KiB per message); one line this long has no legitimate use.</summary>
    public const int DefaultMaxExtensionLength = 4 * 1024;

    /// <summary>Trailer fields are header fields: the same order of magnitude as a head, a quarter of SocketsHttpHandler's 64 KiB.</summary>
    public const int DefaultMaxTrailerSize = 16 * 1024;

    // 16 hex digits already exceed long.MaxValue; more can only be leading zeros, which bound nothing.
    private const int MaxSizeDigits = 16;

    private readonly int _maxExtensionLength;
    private readonly int _maxTrailerSize;
    private State _state;
    private long _chunkSize;
    private int _lineLength;
    private int _trailerLength;

    public ChunkedFramingScanner(int maxExtensionLength = DefaultMaxExtensionLength, int maxTrailerSize = DefaultMaxTrailerSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxExtensionLength);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTrailerSize);
        _maxExtensionLength = maxExtensionLength;
        _maxTrailerSize = maxTrailerSize;
    }

    private enum State : byte
    {
        SizeFirstDigit,
        Size,
        SizeWhitespace,
        Extension,
        SizeLineFeed,
        Data,
        DataCarriageReturn,
        DataLineFeed,
        TrailerLineStart,
        TrailerName,
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
        _lineLength = 0;
        _trailerLength = 0;
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
        switch (_state)
        {
            // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; chunk-size = 1*HEXDIG
            case State.SizeFirstDigit:
                if (!TryHex(b, out int first))
                {
                    return ChunkedFramingError.InvalidChunkSize;
                }

                _chunkSize = first;
                _lineLength = 1;
                _state = State.Size;
                return ChunkedFramingError.None;

            case State.Size:
                if (TryHex(b, out int digit))
                {
                    if (++_lineLength > MaxSizeDigits || _chunkSize > (long.MaxValue >> 4))
                    {
                        return ChunkedFramingError.ChunkSizeOverflow;
                    }

                    _chunkSize = (_chunkSize << 4) | (uint)digit;
                    return ChunkedFramingError.None;
                }

                // From here _lineLength counts the extension, its ";" or leading BWS included.
                _lineLength = 1;
                return b switch
                {
                    (byte)';' => Go(State.Extension),
                    (byte)' ' or (byte)'\t' => Go(State.SizeWhitespace),
                    (byte)'\r' => Go(State.SizeLineFeed),
                    (byte)'\n' => ChunkedFramingError.BareLineFeed,
                    _ => ChunkedFramingError.InvalidChunkSize,
                };

            // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ): whitespace
            // after the size is only BWS before a ";".
            case State.SizeWhitespace:
                if (++_lineLength > _maxExtensionLength)
                {
                    return ChunkedFramingError.ExtensionTooLong;
                }

                return b switch
                {
                    (byte)' ' or (byte)'\t' => ChunkedFramingError.None,
                    (byte)';' => Go(State.Extension),
                    _ => ChunkedFramingError.WhitespaceWithoutExtension,
                };

            case State.Extension:
                if (b == (byte)'\r')
                {
                    return Go(State.SizeLineFeed);
                }

                if (++_lineLength > _maxExtensionLength)
                {
                    return ChunkedFramingError.ExtensionTooLong;
                }

                return b == (byte)'\n' ? ChunkedFramingError.BareLineFeed
                    : FieldSyntax.IsControlExceptTab(b) ? ChunkedFramingError.InvalidExtension
                    : ChunkedFramingError.None;

            case State.SizeLineFeed:
                if (b != (byte)'\n')
                {
                    return ChunkedFramingError.ExpectedLineFeed;
                }

                // last-chunk = 1*("0") [ chunk-ext ] CRLF, then trailer-section CRLF.
                return Go(_chunkSize == 0 ? State.TrailerLineStart : State.Data);

            case State.DataCarriageReturn:
                return b == (byte)'\r' ? Go(State.DataLineFeed)
                    : b == (byte)'\n' ? ChunkedFramingError.BareLineFeed
                    : ChunkedFramingError.MissingChunkTerminator;

            case State.DataLineFeed:
                return b == (byte)'\n' ? Go(State.SizeFirstDigit) : ChunkedFramingError.ExpectedLineFeed;

            // trailer-section = *( field-line CRLF ): field lines as in a head, obs-fold rejected (RFC 9112 §5.2).
            case State.TrailerLineStart:
                if (b == (byte)'\r')
                {
                    return Go(State.FinalLineFeed);
                }

                if (b == (byte)'\n')
                {
                    return ChunkedFramingError.BareLineFeed;
                }

                return CountTrailer() ?? (HttpCharacters.Token.Contains(b) ? Go(State.TrailerName) : ChunkedFramingError.InvalidTrailer);

            case State.TrailerName:
                return CountTrailer()
                    ?? (b == (byte)':' ? Go(State.TrailerValue)
                    : HttpCharacters.Token.Contains(b) ? ChunkedFramingError.None
                    : ChunkedFramingError.InvalidTrailer);

            case State.TrailerValue:
                return CountTrailer()
                    ?? (b == (byte)'\r' ? Go(State.TrailerLineFeed)
                    : b == (byte)'\n' ? ChunkedFramingError.BareLineFeed
                    : b == 0 ? ChunkedFramingError.InvalidTrailer
                    : ChunkedFramingError.None);

            case State.TrailerLineFeed:
                return CountTrailer() ?? (b == (byte)'\n' ? Go(State.TrailerLineStart) : ChunkedFramingError.ExpectedLineFeed);

            case State.FinalLineFeed:
                return b == (byte)'\n' ? Go(State.Complete) : ChunkedFramingError.ExpectedLineFeed;

            default:
                return ChunkedFramingError.None;
        }
    }

    private ChunkedFramingError Go(State next)
    {
        _state = next;
        return ChunkedFramingError.None;
    }

    private ChunkedFramingError? CountTrailer() => ++_trailerLength > _maxTrailerSize ? ChunkedFramingError.TrailerTooLarge : null;

    private static bool TryHex(byte b, out int value)
    {
        value = HexConverter(b);
        return value >= 0;
    }

    private static int HexConverter(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
