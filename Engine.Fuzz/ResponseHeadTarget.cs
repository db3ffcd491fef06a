using System.Buffers;
using System.Text;

using Engine.Forwarding;
using Engine.Http;

namespace Engine.Fuzz;

/// <summary>
/// <see cref="ResponseHeadParser"/> over an upstream's bytes, interim (1xx) heads included, fed
/// whole and in two segments whose first arrives alone. Invalid is the parser's answer; an
/// exception, an Incomplete that left bytes unread, a head whose raw bytes are not the input, or
/// a split that changes the outcome is a crash.
/// </summary>
internal static class ResponseHeadTarget
{
    public const string Name = "response";

    // The engine caps interim heads per exchange; the fuzzer only needs a few to reach the restart path.
    private const int MaxHeads = 4;

    private static readonly ResponseHeadParser Small = new(maxHeadSize: 64, maxHeaderCount: 2);

    private static readonly ForwardingHeader[] KnownHeaders = Enum.GetValues<ForwardingHeader>();

    public static void Run(ReadOnlySpan<byte> input)
    {
        if (!FuzzInput.TryRead(input, out FuzzInput parsed))
        {
            return;
        }

        // Option bits 0–1: the request method (other, HEAD, CONNECT); bit 7: small limits.
        var method = (RequestMethodKind)((parsed.Options & 3) % 3);
        ResponseHeadParser parser = (parsed.Options & 0x80) != 0 ? Small : ResponseHeadParser.Default;
        byte[] data = parsed.Data.ToArray();
        string whole = Drive(parser, method, new ReadOnlySequence<byte>(data), [data.Length]);
        string split = Drive(parser, method, FuzzSegment.Split(data, parsed.Split), [parsed.Split, data.Length]);
        InvariantViolationException.ThrowIfDifferent(whole, split, $"split at {parsed.Split}");
    }

    private static string Drive(ResponseHeadParser parser, RequestMethodKind method, ReadOnlySequence<byte> all, int[] availability)
    {
        var head = new ResponseHead();
        var log = new StringBuilder();
        long consumed = 0;
        long headStart = 0;
        int heads = 0;
        foreach (int available in availability)
        {
            var reader = new SequenceReader<byte>(all.Slice(consumed, available - consumed));
            while (true)
            {
                ResponseParseStatus status = parser.Parse(ref reader, head, method);
                if (status == ResponseParseStatus.Incomplete)
                {
                    InvariantViolationException.ThrowIf(!reader.End, "Incomplete with bytes left unread");
                    break;
                }

                if (status == ResponseParseStatus.Invalid)
                {
                    InvariantViolationException.ThrowIf(head.Error == ResponseHeadError.None, "Invalid without an error");
                    return log.Append(" invalid ").Append(head.Error).Append(" @").Append(consumed + reader.Consumed).ToString();
                }

                long end = consumed + reader.Consumed;
                InvariantViolationException.ThrowIf(
                    !head.RawBytes.SequenceEqual(all.Slice(headStart, end - headStart).ToArray()),
                    "the head's raw bytes are not the bytes it was parsed from");
                Describe(head, log);
                if (!head.IsInterim || ++heads == MaxHeads)
                {
                    return log.Append(" @").Append(end).ToString();
                }

                head.Reset();
                headStart = end;
            }

            consumed += reader.Consumed;
        }

        return log.Append(" incomplete @").Append(consumed).ToString();
    }

    private static void Describe(ResponseHead head, StringBuilder log)
    {
        log.Append(" head 1.").Append(head.MinorVersion).Append(' ').Append(head.StatusCode).Append(' ').Append(Latin1(head.ReasonPhrase))
            .Append(' ').Append(head.Framing).Append(' ').Append(head.ContentLength)
            .Append(" te=").Append(head.HasTransferEncoding).Append(" keepalive=").Append(head.KeepAlive)
            .Append(' ').Append(head.Connection).Append(" switch=").Append(head.SwitchesProtocols);
        for (int i = 0; i < head.HeaderCount; i++)
        {
            HeaderField field = head.GetHeader(i);
            log.Append(" | ").Append(Latin1(field.Name)).Append(": ").Append(Latin1(field.Value))
                .Append(head.IsHopByHop(i) ? " (hop)" : string.Empty)
                .Append(head.IsHopByHop(i, upgrading: true) ? " (hop-upgrade)" : string.Empty);
        }

        foreach (ForwardingHeader known in KnownHeaders)
        {
            if (head.TryGetValue(known, out ReadOnlySpan<byte> value))
            {
                log.Append(" [").Append(known).Append('=').Append(Latin1(value)).Append(']');
            }
        }
    }

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);
}
