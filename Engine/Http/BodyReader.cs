using System.Buffers;
using System.Runtime.CompilerServices;

namespace Engine.Http;

/// <summary>
/// Reads a request body as framed by its head (RFC 9112 §6.3): counts Content-Length bytes or
/// decodes chunked framing (§7.1), yielding slices of the input without copying. Trailer fields
/// are validated with the header rules and stored in the head. One per connection; call
/// <see cref="Start"/> after each complete head.
/// </summary>
internal sealed class BodyReader
{
    /// <summary>
    /// Bytes a chunk-size line may spend on the size itself: 16 hex digits for 2^64, plus room for
    /// leading zeros and BWS. Extensions have their own budget.
    /// </summary>
    private const int ChunkSizeAllowance = 32;

    private readonly HttpParserLimits _limits;
    private RequestHead? _head;
    private Phase _phase;
    private long _remaining;
    private int _scanned;
    private int _extensionBytes;
    private int _trailerBytes;

    // Only for a chunk-size line split across segments; sized on first use, then reused.
    private byte[]? _scratch;

    public BodyReader(HttpParserLimits? limits = null)
    {
        _limits = limits ?? HttpParserLimits.Default;
    }

    private enum Phase : byte
    {
        Done = 0,
        Length,
        ChunkSize,
        ChunkData,
        ChunkCr,
        ChunkLf,
        Trailers,
        Failed,
    }

    public RejectReason RejectReason { get; private set; }

    /// <summary>Content bytes not yet produced for a Content-Length body.</summary>
    public long Remaining => _phase == Phase.Length ? _remaining : 0;

    public bool IsComplete => _phase == Phase.Done;

    public void Start(RequestHead head)
    {
        _head = head;
        _scanned = 0;
        _extensionBytes = 0;
        _trailerBytes = 0;
        RejectReason = RejectReason.None;
        switch (head.Framing)
        {
            case BodyFraming.ContentLength:
                _remaining = head.ContentLength;
                _phase = _remaining > 0 ? Phase.Length : Phase.Done;
                break;
            case BodyFraming.Chunked:
                _phase = Phase.ChunkSize;
                break;
            default:
                _phase = Phase.Done;
                break;
        }
    }

    /// <summary>
    /// Advances through framing until content is available (<see cref="BodyStatus.Data"/>: the
    /// slice is consumed from the reader and stays valid until the caller releases the buffer),
    /// the body ends, more input is needed, or the framing is invalid.
    /// </summary>
    public BodyStatus Read(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> data)
    {
        data = default;
        while (true)
        {
            switch (_phase)
            {
                case Phase.Done:
                    return BodyStatus.Complete;
                case Phase.Failed:
                    return BodyStatus.Rejected;
                case Phase.Length:
                    return TakeData(ref reader, out data, Phase.Done);
                case Phase.ChunkData:
                    return TakeData(ref reader, out data, Phase.ChunkCr);
                case Phase.ChunkSize:
                    {
                        BodyStatus status = ReadChunkSize(ref reader);
                        if (status != BodyStatus.Data)
                        {
                            return status;
                        }

                        break;
                    }

                case Phase.ChunkCr:
                case Phase.ChunkLf:
                    {
                        // RFC 9112 §7.1: chunk-data is followed by exactly CRLF; judged byte by byte
                        // so "5\r\nABCDE0..." is refused at the '0'.
                        if (!reader.TryPeek(out byte b))
                        {
                            return BodyStatus.Incomplete;
                        }

                        byte expected = _phase == Phase.ChunkCr ? HttpCharacters.CR : HttpCharacters.LF;
                        if (b != expected)
                        {
                            return Reject(RejectReason.MissingChunkCrlf);
                        }

                        reader.Advance(1);
                        _phase = _phase == Phase.ChunkCr ? Phase.ChunkLf : Phase.ChunkSize;
                        break;
                    }

                default:
                    return ReadTrailers(ref reader);
            }
        }
    }

    private BodyStatus TakeData(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> data, Phase next)
    {
        long take = Math.Min(reader.Remaining, _remaining);
        if (take == 0)
        {
            data = default;
            return BodyStatus.Incomplete;
        }

        data = reader.UnreadSequence.Slice(0, take);
        reader.Advance(take);
        _remaining -= take;
        if (_remaining == 0)
        {
            _phase = next;
        }

        return BodyStatus.Data;
    }

    /// <summary>Parses one chunk-size line; <see cref="BodyStatus.Data"/> here means "moved on, keep going".</summary>
    private BodyStatus ReadChunkSize(ref SequenceReader<byte> reader)
    {
        ReadOnlySequence<byte> unread = reader.UnreadSequence;
        int budget = ChunkSizeAllowance + _limits.MaxChunkExtensionBytes - _extensionBytes;
        LineScan scan = LineScanner.Find(unread, ref _scanned, budget, out int length);
        switch (scan)
        {
            case LineScan.NeedMore:
                return BodyStatus.Incomplete;
            case LineScan.TooLong:
                return Reject(RejectReason.ChunkExtensionTooLong);
            case LineScan.BareCR:
                return Reject(RejectReason.BareCR);
            case LineScan.BareLF:
                return Reject(RejectReason.BareLF);
        }

        _scanned = 0;
        ReadOnlySpan<byte> line = Contiguous(unread, length);
        RejectReason reason = ParseChunkSize(line, out long size, out int extensionLength);
        if (reason != RejectReason.None)
        {
            return Reject(reason);
        }

        _extensionBytes += extensionLength;
        if (_extensionBytes > _limits.MaxChunkExtensionBytes)
        {
            return Reject(RejectReason.ChunkExtensionTooLong);
        }

        reader.Advance(length + 2);
        if (size == 0)
        {
            // last-chunk: the trailer section follows (RFC 9112 §7.1.2).
            _phase = Phase.Trailers;
        }
        else
        {
            _remaining = size;
            _phase = Phase.ChunkData;
        }

        return BodyStatus.Data;
    }

    /// <summary>
    /// chunk-size [ chunk-ext ] (RFC 9112 §7.1): 1*HEXDIG, nothing before it (no "0x", "+", SP),
    /// and only BWS ";" after it; a bare space with no extension is refused (llhttp does the same).
    /// </summary>
    private static RejectReason ParseChunkSize(ReadOnlySpan<byte> line, out long size, out int extensionLength)
    {
        size = 0;
        extensionLength = 0;
        int i = 0;
        while (i < line.Length)
        {
            int digit = HttpCharacters.HexValue(line[i]);
            if (digit < 0)
            {
                break;
            }

            // Overflow check before the shift: 2^63-1 is the largest size a long can count down.
            if (size > (long.MaxValue >> 4))
            {
                return RejectReason.ChunkSizeOverflow;
            }

            size = (size << 4) | (uint)digit;
            i++;
        }

        if (i == 0)
        {
            return RejectReason.InvalidChunkSize;
        }

        if (i == line.Length)
        {
            return RejectReason.None;
        }

        ReadOnlySpan<byte> extensions = line[i..];
        int semicolon = 0;
        while (semicolon < extensions.Length && HttpCharacters.IsWhitespace(extensions[semicolon]))
        {
            semicolon++;
        }

        if (semicolon == extensions.Length || extensions[semicolon] != (byte)';')
        {
            return RejectReason.InvalidChunkSize;
        }

        extensionLength = extensions.Length;
        return ChunkExtensionsAreValid(extensions) ? RejectReason.None : RejectReason.InvalidChunkExtension;
    }

    /// <summary>
    /// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), names are tokens,
    /// values are tokens or quoted-strings (RFC 9112 §7.1.1, RFC 9110 §5.6.4). Extensions are then
    /// ignored, but a malformed one is refused: lax extension parsing was CVE-2021-22960.
    /// </summary>
    private static bool ChunkExtensionsAreValid(ReadOnlySpan<byte> extensions)
    {
        int i = 0;
        while (i < extensions.Length)
        {
            i = SkipWhitespace(extensions, i);
            if (i == extensions.Length || extensions[i] != (byte)';')
            {
                return false;
            }

            i = SkipWhitespace(extensions, i + 1);
            int name = TokenLength(extensions, i);
            if (name == 0)
            {
                return false;
            }

            i += name;
            int afterName = SkipWhitespace(extensions, i);
            if (afterName < extensions.Length && extensions[afterName] == (byte)'=')
            {
                i = SkipWhitespace(extensions, afterName + 1);
                if (i == extensions.Length)
                {
                    return false;
                }

                if (extensions[i] == (byte)'"')
                {
                    i = QuotedStringEnd(extensions, i);
                    if (i < 0)
                    {
                        return false;
                    }
                }
                else
                {
                    int token = TokenLength(extensions, i);
                    if (token == 0)
                    {
                        return false;
                    }

                    i += token;
                }
            }
        }

        return true;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> text, int i)
    {
        while (i < text.Length && HttpCharacters.IsWhitespace(text[i]))
        {
            i++;
        }

        return i;
    }

    private static int TokenLength(ReadOnlySpan<byte> text, int i)
    {
        int run = text[i..].IndexOfAnyExcept(HttpCharacters.Token);
        return run < 0 ? text.Length - i : run;
    }

    /// <summary>Index after the closing quote of the quoted-string at <paramref name="i"/> (RFC 9110 §5.6.4), or -1.</summary>
    private static int QuotedStringEnd(ReadOnlySpan<byte> text, int i)
    {
        for (i++; i < text.Length; i++)
        {
            byte b = text[i];
            if (b == (byte)'"')
            {
                return i + 1;
            }

            if (b == (byte)'\\')
            {
                i++;
                if (i == text.Length)
                {
                    return -1;
                }

                b = text[i];
            }

            // qdtext and quoted-pair: HTAB, SP, VCHAR, obs-text; never other controls or DEL.
            if (b != HttpCharacters.HTAB && (b < 0x20 || b == 0x7F))
            {
                return -1;
            }
        }

        return -1;
    }

    private BodyStatus ReadTrailers(ref SequenceReader<byte> reader)
    {
        RequestHead head = _head!;
        while (true)
        {
            if (_scanned == 0)
            {
                if (!reader.TryPeek(out byte first))
                {
                    return BodyStatus.Incomplete;
                }

                if (HttpCharacters.IsWhitespace(first))
                {
                    return Reject(RejectReason.ObsFold);
                }
            }

            int budget = _limits.MaxTrailerBytes - _trailerBytes - 2;
            if (budget < 0)
            {
                return Reject(RejectReason.TrailerTooLarge);
            }

            ReadOnlySequence<byte> unread = reader.UnreadSequence;
            LineScan scan = LineScanner.Find(unread, ref _scanned, budget, out int length);
            switch (scan)
            {
                case LineScan.NeedMore:
                    return BodyStatus.Incomplete;
                case LineScan.TooLong:
                    return Reject(RejectReason.TrailerTooLarge);
                case LineScan.BareCR:
                    return Reject(RejectReason.BareCR);
                case LineScan.BareLF:
                    return Reject(RejectReason.BareLF);
            }

            _scanned = 0;
            if (length == 0)
            {
                reader.Advance(2);
                _phase = Phase.Done;
                return BodyStatus.Complete;
            }

            if (head.TrailerCount >= _limits.MaxHeaderCount)
            {
                return Reject(RejectReason.TrailerTooLarge);
            }

            int offset = head.Append(unread.Slice(0, length));
            RejectReason reason = FieldLineParser.Parse(head.Bytes(offset, length), out int nameLength, out int valueOffset, out int valueLength);
            if (reason != RejectReason.None)
            {
                return Reject(reason);
            }

            // RFC 9110 §6.5.1: trailers must not be merged into the header section, so they are
            // stored apart; which ones to forward is the forwarder's decision.
            KnownHeader known = KnownHeaders.Lookup(head.Bytes(offset, nameLength));
            head.AddTrailer(new HeaderEntry(offset, nameLength, offset + valueOffset, valueLength, known));
            reader.Advance(length + 2);
            _trailerBytes += length + 2;
        }
    }

    private ReadOnlySpan<byte> Contiguous(in ReadOnlySequence<byte> unread, int length)
    {
        ReadOnlySpan<byte> first = unread.FirstSpan;
        if (first.Length >= length)
        {
            return first[..length];
        }

        if (_scratch is null || _scratch.Length < length)
        {
            _scratch = new byte[Math.Max(length, 256)];
        }

        unread.Slice(0, length).CopyTo(_scratch);
        return _scratch.AsSpan(0, length);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private BodyStatus Reject(RejectReason reason)
    {
        RejectReason = reason;
        _phase = Phase.Failed;
        return BodyStatus.Rejected;
    }
}
