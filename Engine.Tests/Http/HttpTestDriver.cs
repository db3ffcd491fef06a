using System.Buffers;
using System.Text;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>
/// Drives the parser as the connection layer will: parse a head, read its body, then the next
/// request; stop at CONNECT or an upgrade. The input is offered as a growing window over one
/// sequence, and only what the parser consumed is dropped, exactly like PipeReader.AdvanceTo.
/// </summary>
internal sealed class HttpTestDriver
{
    private readonly HttpRequestParser _parser;
    private readonly RequestHead _head = new();
    private readonly BodyReader _body;
    private readonly DriverOutcome _outcome = new();
    private readonly List<byte> _bodyBytes = [];
    private DriverMessage? _current;
    private bool _inBody;
    private long _consumed;

    private HttpTestDriver(HttpParserLimits limits)
    {
        _parser = new HttpRequestParser(limits);
        _body = new BodyReader(limits);
    }

    public static DriverOutcome Run(byte[] input, FeedMode mode, HttpParserLimits limits) => mode switch
    {
        FeedMode.Whole => Run(new ReadOnlySequence<byte>(input), [input.Length], limits),
        FeedMode.ByteByByte => Run(new ReadOnlySequence<byte>(input), Enumerable.Range(1, Math.Max(1, input.Length)).Select(i => (long)Math.Min(i, input.Length)).ToArray(), limits),
        FeedMode.SegmentPerByte => Run(TestSegment.Chain(input, Enumerable.Range(1, Math.Max(0, input.Length - 1)).ToArray()), [input.Length], limits),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), "split mode runs per boundary; use RunSplit"),
    };

    /// <summary>Two segments cut at <paramref name="split"/>; the first segment arrives alone, then the rest.</summary>
    public static DriverOutcome RunSplit(byte[] input, int split, HttpParserLimits limits) =>
        Run(TestSegment.Chain(input, [split]), [split, input.Length], limits);

    public static DriverOutcome Run(ReadOnlySequence<byte> all, IReadOnlyList<long> availability, HttpParserLimits limits)
    {
        var driver = new HttpTestDriver(limits);
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
            driver._outcome.Partial = driver._current! with { Body = [.. driver._bodyBytes] };
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

                _body.Start(_head);
                _inBody = true;
            }

            BodyStatus body = _body.Read(ref reader, out ReadOnlySequence<byte> data);
            switch (body)
            {
                case BodyStatus.Data:
                    _bodyBytes.AddRange(data.ToArray());
                    continue;
                case BodyStatus.Incomplete:
                    return false;
                case BodyStatus.Rejected:
                    _outcome.Rejected = true;
                    _outcome.Reason = _body.RejectReason;
                    return true;
            }

            _inBody = false;
            var trailers = new List<(string, string)>();
            for (int i = 0; i < _head.TrailerCount; i++)
            {
                HeaderField trailer = _head.GetTrailer(i);
                trailers.Add((Latin1(trailer.Name), Latin1(trailer.Value)));
            }

            _outcome.Messages.Add(_current! with { Body = [.. _bodyBytes], Trailers = trailers });
            if (_head.IsUpgrade)
            {
                _outcome.StopKind = "upgrade";
                _outcome.StopOffset = _consumed + reader.Consumed;
                return true;
            }
        }
    }

    private static DriverMessage Capture(RequestHead head)
    {
        var headers = new List<(string, string)>();
        for (int i = 0; i < head.HeaderCount; i++)
        {
            HeaderField field = head.GetHeader(i);
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
