using System.Buffers;
using System.Text;

using Engine.Forwarding;
using Engine.Http;

namespace Engine.Fuzz;

/// <summary>
/// <see cref="HttpRequestParser.ParseHead"/> and the body framing the forwarder runs (a Content-Length
/// counted down, chunked through <see cref="ChunkedFramingScanner"/>) driven as the connection drives
/// them (head, body, next head; stop at CONNECT or an upgrade), once over the whole input
/// and once over two segments whose first arrives alone. Rejection is the parser's answer; an
/// exception, a call that makes no progress or a split that changes the outcome is a crash.
/// </summary>
internal static class RequestHeadTarget
{
    public const string Name = "request";

    // Option bit 0: small limits, so the fuzzer reaches every "too long" branch with short inputs.
    private static readonly HttpParserLimits SmallLimits = new()
    {
        MaxRequestLineBytes = 64,
        MaxRequestHeadBytes = 256,
        MaxHeaderCount = 4,
        RequireHost = false,
    };

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (!FuzzInput.TryRead(input, out FuzzInput parsed))
        {
            return;
        }

        HttpParserLimits limits = (parsed.Options & 1) != 0 ? SmallLimits : HttpParserLimits.Default;
        byte[] data = parsed.Data.ToArray();
        string whole = Drive(new ReadOnlySequence<byte>(data), [data.Length], limits);
        string split = Drive(FuzzSegment.Split(data, parsed.Split), [parsed.Split, data.Length], limits);
        InvariantViolationException.ThrowIfDifferent(whole, split, $"split at {parsed.Split}");
    }

    /// <summary>Offers <paramref name="all"/> as a window growing to each availability, dropping only what was consumed (PipeReader.AdvanceTo).</summary>
    private static string Drive(ReadOnlySequence<byte> all, int[] availability, HttpParserLimits limits)
    {
        var parser = new HttpRequestParser(limits);
        ChunkedFramingScanner chunks = ReferenceEquals(limits, SmallLimits)
            ? new ChunkedFramingScanner(maxExtensionBytes: 16, maxTrailerBytes: 64)
            : new ChunkedFramingScanner();
        long remaining = 0;
        var head = new RequestHead();
        var log = new StringBuilder();
        using var bodyBytes = new MemoryStream();
        bool inBody = false;
        long consumed = 0;
        foreach (int available in availability)
        {
            var reader = new SequenceReader<byte>(all.Slice(consumed, available - consumed));
            bool stopped = Step(ref reader, parser, chunks, head, log, bodyBytes, ref inBody, ref remaining);
            consumed += reader.Consumed;
            if (stopped)
            {
                return log.Append(" @").Append(consumed).ToString();
            }
        }

        if (inBody)
        {
            log.Append(" body=").Append(Convert.ToHexString(bodyBytes.GetBuffer(), 0, (int)bodyBytes.Length));
        }

        return log.Append(inBody ? " in-body" : parser.InProgress ? " in-head" : " idle").Append(" @").Append(consumed).ToString();
    }

    private static bool Step(ref SequenceReader<byte> reader, HttpRequestParser parser, ChunkedFramingScanner chunks, RequestHead head, StringBuilder log, MemoryStream bodyBytes, ref bool inBody, ref long remaining)
    {
        // Every pass consumes at least one byte or returns; the bound turns a livelock into a crash, not a hang.
        long maxPasses = (2 * reader.Remaining) + 2;
        for (long passes = 0; passes <= maxPasses; passes++)
        {
            if (!inBody)
            {
                long before = reader.Consumed;
                ParseStatus status = parser.ParseHead(ref reader, head);
                if (status == ParseStatus.Incomplete)
                {
                    return false;
                }

                if (status == ParseStatus.Rejected)
                {
                    InvariantViolationException.ThrowIf(parser.RejectReason == RejectReason.None, "Rejected without a reason");
                    log.Append(" rejected ").Append(parser.RejectReason);
                    return true;
                }

                InvariantViolationException.ThrowIf(reader.Consumed == before, "a complete head consumed no bytes");
                Describe(head, log);
                if (head.Method == KnownMethod.Connect)
                {
                    log.Append(" connect");
                    return true;
                }

                chunks.Reset();
                remaining = head.Framing == BodyFraming.ContentLength ? head.ContentLength : 0;
                inBody = true;
            }

            // The body's bytes as relayed (chunked framing included); slices end where the input's
            // segments do: the bytes, not their slicing, are the outcome.
            SequencePosition from = reader.Position;
            if (head.Framing == BodyFraming.Chunked)
            {
                ChunkedScanStatus scan = chunks.Scan(ref reader);
                Write(bodyBytes, reader.Sequence.Slice(from, reader.Position));
                InvariantViolationException.ThrowIf(chunks.Length != bodyBytes.Length, "the scanner's Length is not the bytes it consumed");
                if (scan == ChunkedScanStatus.NeedMoreData)
                {
                    return false;
                }

                if (scan == ChunkedScanStatus.Invalid)
                {
                    RejectReason reason = chunks.Error.ToRejectReason();
                    InvariantViolationException.ThrowIf(reason == RejectReason.None, "body rejected without a reason");
                    log.Append(" body=").Append(Convert.ToHexString(bodyBytes.GetBuffer(), 0, (int)bodyBytes.Length)).Append(" body-rejected ").Append(reason);
                    return true;
                }

                log.Append(" data=").Append(chunks.DataLength);
            }
            else if (remaining > 0)
            {
                long take = Math.Min(remaining, reader.Remaining);
                reader.Advance(take);
                remaining -= take;
                Write(bodyBytes, reader.Sequence.Slice(from, reader.Position));
                if (remaining > 0)
                {
                    return false;
                }
            }

            inBody = false;
            log.Append(" body=").Append(Convert.ToHexString(bodyBytes.GetBuffer(), 0, (int)bodyBytes.Length)).Append(" end");
            bodyBytes.SetLength(0);

            if (head.IsUpgrade)
            {
                log.Append(" upgrade");
                return true;
            }
        }

        throw new InvariantViolationException("the parser and body framing made no progress");
    }

    private static void Describe(RequestHead head, StringBuilder log)
    {
        log.Append(" head ").Append(Latin1(head.MethodBytes)).Append(' ').Append(Latin1(head.Target))
            .Append(' ').Append(head.Version).Append(' ').Append(head.TargetForm)
            .Append(" host=").Append(Latin1(head.TargetHost)).Append(':').Append(head.TargetPort)
            .Append(' ').Append(head.Framing).Append(' ').Append(head.ContentLength)
            .Append(" keepalive=").Append(head.KeepAlive).Append(" len=").Append(head.HeadLength);
        for (int i = 0; i < head.HeaderCount; i++)
        {
            Engine.Http.HeaderField field = head.GetHeader(i);
            log.Append(" | ").Append(Latin1(field.Name)).Append(": ").Append(Latin1(field.Value));
        }
    }

    private static void Write(MemoryStream stream, ReadOnlySequence<byte> bytes)
    {
        foreach (ReadOnlyMemory<byte> piece in bytes)
        {
            stream.Write(piece.Span);
        }
    }

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);
}
