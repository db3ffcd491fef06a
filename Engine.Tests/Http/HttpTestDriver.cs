using System.Buffers;
using System.Text;
using Engine.Forwarding;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>
/// Drives the production request path as the connection does: <see cref="HttpRequestParser"/> for a
/// head, then its body as the forwarder frames it (a Content-Length counted down; chunked through
/// <see cref="ChunkedFramingScanner"/>, the production scanner, bytes relayed as received), then the
/// next request; stop at CONNECT or an upgrade. The input is offered as a growing window over one
/// sequence, and only what was consumed is dropped, exactly like PipeReader.AdvanceTo. The scanner
/// does not decode: the body and trailers the vectors expect are read back from the bytes it framed
/// (<see cref="ChunkedTestDecoder"/>), and the decoded content must be as long as the scanner counted.
/// </summary>
internal sealed class HttpTestDriver
{
    private readonly HttpRequestParser _parser;
    private readonly RequestHead _head = new();
    private readonly ChunkedFramingScanner _chunks;
    private readonly DriverOutcome _outcome = new();
    private readonly List<byte> _bodyBytes = [];
    private DriverMessage? _current;
    private bool _inBody;
    private bool _chunked;
    private long _remaining;
    private long _consumed;

    private HttpTestDriver(HttpParserLimits limits, ChunkLimits? chunkLimits)
    {
        _parser = new HttpRequestParser(limits);
        _chunks = (chunkLimits ?? ChunkLimits.Default).NewScanner();
    }

    public static DriverOutcome Run(byte[] input, FeedMode mode, HttpParserLimits limits, ChunkLimits? chunkLimits = null) => mode switch
    {
        FeedMode.Whole => Run(new ReadOnlySequence<byte>(input), [input.Length], limits, chunkLimits),
        FeedMode.ByteByByte => Run(new ReadOnlySequence<byte>(input), Enumerable.Range(1, Math.Max(1, input.Length)).Select(i => (long)Math.Min(i, input.Length)).ToArray(), limits, chunkLimits),
        FeedMode.SegmentPerByte => Run(TestSegment.Chain(input, Enumerable.Range(1, Math.Max(0, input.Length - 1)).ToArray()), [input.Length], limits, chunkLimits),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), "split mode runs per boundary; use RunSplit"),
    };

    /// <summary>Two segments cut at <paramref name="split"/>; the first segment arrives alone, then the rest.</summary>
    public static DriverOutcome RunSplit(byte[] input, int split, HttpParserLimits limits, ChunkLimits? chunkLimits = null) =>
        Run(TestSegment.Chain(input, [split]), [split, input.Length], limits, chunkLimits);

    public static DriverOutcome Run(ReadOnlySequence<byte> all, IReadOnlyList<long> availability, HttpParserLimits limits, ChunkLimits? chunkLimits = null)
    {
        var driver = new HttpTestDriver(limits, chunkLimits);
        foreach (long available in availability)
        {
            var reader = new SequenceReader<byte>(all.Slice(driver._consumed, available - driver._consumed));
            bool stopped = driver.Step(ref reader);
            driver._consumed += reader.Consumed;
            if (stopped)
            {
                return driver._outcome;
            }
        }

        if (driver._inBody)
        {
            driver._outcome.Incomplete = true;
            driver._outcome.HeadersComplete = true;
            driver._outcome.Partial = driver.WithBody(driver._current!);
        }
        else if (driver._parser.InProgress || driver._consumed < all.Length)
        {
            driver._outcome.Incomplete = true;
        }

        return driver._outcome;
    }

    private bool Step(ref SequenceReader<byte> reader)
    {
        while (true)
        {
            if (!_inBody)
            {
                ParseStatus status = _parser.ParseHead(ref reader, _head);
                if (status == ParseStatus.Incomplete)
                {
                    return false;
                }

                if (status == ParseStatus.Rejected)
                {
                    _outcome.Rejected = true;
                    _outcome.Reason = _parser.RejectReason;
                    return true;
                }

                _current = Capture(_head);
                _bodyBytes.Clear();
                if (_head.Method == KnownMethod.Connect)
                {
                    _outcome.Messages.Add(_current);
                    _outcome.StopKind = "connect";
                    _outcome.StopOffset = _consumed + reader.Consumed;
                    return true;
                }

                // As the forwarder's upload: chunked is scanned, Content-Length counted, else no body.
                _chunked = _head.Framing == BodyFraming.Chunked;
                _remaining = _head.Framing == BodyFraming.ContentLength ? _head.ContentLength : 0;
                _chunks.Reset();
                _inBody = true;
            }

            if (_chunked)
            {
                SequencePosition from = reader.Position;
                ChunkedScanStatus scan = _chunks.Scan(ref reader);
                _bodyBytes.AddRange(reader.Sequence.Slice(from, reader.Position).ToArray());
                if (scan == ChunkedScanStatus.NeedMoreData)
                {
                    return false;
                }

                if (scan == ChunkedScanStatus.Invalid)
                {
                    _outcome.Rejected = true;
                    _outcome.Reason = _chunks.Error.ToRejectReason();
                    return true;
                }
            }
            else if (_remaining > 0)
            {
                long take = Math.Min(_remaining, reader.Remaining);
                _bodyBytes.AddRange(reader.UnreadSequence.Slice(0, take).ToArray());
                reader.Advance(take);
                _remaining -= take;
                if (_remaining > 0)
                {
                    return false;
                }
            }

            _inBody = false;
            _outcome.Messages.Add(WithBody(_current!));
            if (_head.IsUpgrade)
            {
                _outcome.StopKind = "upgrade";
                _outcome.StopOffset = _consumed + reader.Consumed;
                return true;
            }
        }
    }

    /// <summary>The message with the body received so far: content as is, chunked read back from the framed bytes.</summary>
    private DriverMessage WithBody(DriverMessage message)
    {
        if (!_chunked)
        {
            return message with { Body = [.. _bodyBytes] };
        }

        (byte[] content, List<(string, string)> trailers) = ChunkedTestDecoder.Decode([.. _bodyBytes]);
        if (content.Length != _chunks.DataLength)
        {
            throw new InvalidOperationException($"the scanner counted {_chunks.DataLength} data bytes, the framed bytes hold {content.Length}");
        }

        return message with { Body = content, Trailers = trailers };
    }

    private static DriverMessage Capture(RequestHead head)
    {
        var headers = new List<(string, string)>();
        for (int i = 0; i < head.HeaderCount; i++)
        {
            Engine.Http.HeaderField field = head.GetHeader(i);
            headers.Add((Latin1(field.Name), Latin1(field.Value)));
        }

        return new DriverMessage(
            Latin1(head.MethodBytes),
            Latin1(head.Target),
            head.Version == RequestVersion.Http11 ? "1.1" : "1.0",
            headers,
            [],
            [],
            head.Framing == BodyFraming.Chunked);
    }

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);
}

/// <summary>The chunked-body limits a vector runs under (the production defaults unless it says otherwise).</summary>
internal sealed record ChunkLimits(
    int MaxExtensionBytes = ChunkedFramingScanner.DefaultMaxExtensionBytes,
    int MaxTrailerBytes = ChunkedFramingScanner.DefaultMaxTrailerBytes)
{
    public static ChunkLimits Default { get; } = new();

    public ChunkedFramingScanner NewScanner() => new(MaxExtensionBytes, MaxTrailerBytes);
}

/// <summary>
/// Reads content and trailer fields back out of chunked bytes that <see cref="ChunkedFramingScanner"/>
/// has already accepted (all of a message, or a prefix of one): no validation, only the reading a
/// test needs to compare with a vector's expected body.
/// </summary>
internal static class ChunkedTestDecoder
{
    public static (byte[] Content, List<(string Name, string Value)> Trailers) Decode(byte[] framed)
    {
        var content = new List<byte>();
        var trailers = new List<(string, string)>();
        int at = 0;
        while (NextLine(framed, ref at) is { } sizeLine)
        {
            int digits = 0;
            long size = 0;
            while (digits < sizeLine.Length && HttpCharacters.HexValue(sizeLine[digits]) is int value and >= 0)
            {
                size = (size << 4) | (uint)value;
                digits++;
            }

            if (size == 0)
            {
                while (NextLine(framed, ref at) is { Length: > 0 } field)
                {
                    string line = Encoding.Latin1.GetString(field);
                    int colon = line.IndexOf(':', StringComparison.Ordinal);
                    trailers.Add((line[..colon], line[(colon + 1)..].Trim(' ', '\t')));
                }

                break;
            }

            int take = (int)Math.Min(size, framed.Length - at);
            content.AddRange(framed.AsSpan(at, take));
            at += take + 2;
            if (at > framed.Length)
            {
                break;
            }
        }

        return ([.. content], trailers);
    }

    private static byte[]? NextLine(byte[] framed, ref int at)
    {
        if (at >= framed.Length)
        {
            return null;
        }

        int end = framed.AsSpan(at).IndexOf("\r\n"u8);
        if (end < 0)
        {
            return null;
        }

        byte[] line = framed.AsSpan(at, end).ToArray();
        at += end + 2;
        return line;
    }
}
