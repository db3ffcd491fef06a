using System.Buffers;
using System.Text;
using Engine.Forwarding;

using Engine.Http;

namespace Engine.Tests.Forwarding;

public class ResponseHeadParserTests
{
    private sealed record Outcome(ResponseParseStatus Status, ResponseHeadError Error, int StatusCode, ResponseBodyFraming Framing,
        long ContentLength, bool KeepAlive, bool Interim, bool Switches, int HeaderCount, long Consumed);

    // The caller's loop: parse, relay and reset after each interim head, stop at the final one.
    private static List<Outcome> Drive(ReadOnlySequence<byte>[] pieces, RequestMethodKind method, ResponseHeadParser parser)
    {
        var head = new ResponseHead();
        var outcomes = new List<Outcome>();
        long consumedBefore = 0;
        foreach (ReadOnlySequence<byte> piece in pieces)
        {
            var reader = new SequenceReader<byte>(piece);
            while (true)
            {
                ResponseParseStatus status = parser.Parse(ref reader, head, method);
                if (status == ResponseParseStatus.Incomplete)
                {
                    Assert.True(reader.End);   // every offered byte is taken while the head is incomplete
                    break;
                }

                outcomes.Add(new Outcome(status, head.Error, head.StatusCode, head.Framing, head.ContentLength, head.KeepAlive, head.IsInterim,
                    head.SwitchesProtocols, head.HeaderCount, consumedBefore + reader.Consumed));
                if (status == ResponseParseStatus.Invalid || !head.IsInterim)
                {
                    return outcomes;
                }

                head.Reset();
            }

            consumedBefore += piece.Length;
        }

        return outcomes;
    }

    // Every feed must give the same outcomes as the whole input; returns them.
    private static List<Outcome> ParseEveryWay(string input, RequestMethodKind method = RequestMethodKind.Other, ResponseHeadParser? parser = null)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(input);
        parser ??= ResponseHeadParser.Default;
        List<Outcome>? expected = null;
        foreach ((string mode, ReadOnlySequence<byte>[] pieces) in TestSegment.Feeds(bytes))
        {
            List<Outcome> outcomes = Drive(pieces, method, parser);
            if (expected is null)
            {
                expected = outcomes;
            }
            else
            {
                Assert.True(expected.SequenceEqual(outcomes), $"{mode}: {string.Join(", ", outcomes)} != {string.Join(", ", expected)}");
            }
        }

        return expected!;
    }

    private static Outcome Final(string input, RequestMethodKind method = RequestMethodKind.Other, ResponseHeadParser? parser = null) =>
        ParseEveryWay(input, method, parser)[^1];

    private static ResponseHead ParseWhole(string input, RequestMethodKind method = RequestMethodKind.Other)
    {
        var head = new ResponseHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(input)));
        Assert.Equal(ResponseParseStatus.Complete, ResponseHeadParser.Default.Parse(ref reader, head, method));
        return head;
    }

    [Fact]
    public void Parse_200WithContentLength_IsContentLengthFramedAndKeptAlive()
    {
        const string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n";
        Outcome outcome = Final(head + "hello");

        Assert.Equal(ResponseParseStatus.Complete, outcome.Status);
        Assert.Equal(200, outcome.StatusCode);
        Assert.Equal(ResponseBodyFraming.ContentLength, outcome.Framing);
        Assert.Equal(5, outcome.ContentLength);
        Assert.True(outcome.KeepAlive);
        Assert.Equal(2, outcome.HeaderCount);
        Assert.Equal(head.Length, outcome.Consumed);   // the body is left for the caller
    }

    [Fact]
    public void Parse_FieldsAndReason_AreViewsWithOwsTrimmed()
    {
        ResponseHead head = ParseWhole("HTTP/1.1 404 Not  Found\r\nServer: \t nginx/1.27 \t\r\nX-Empty:\r\n\r\n");

        Assert.Equal("Not  Found", Encoding.Latin1.GetString(head.ReasonPhrase));
        Assert.Equal("Server", Encoding.Latin1.GetString(head.GetHeader(0).Name));
        Assert.Equal("nginx/1.27", Encoding.Latin1.GetString(head.GetHeader(0).Value));
        Assert.True(head.GetHeader(1).Value.IsEmpty);
        Assert.Equal(ResponseBodyFraming.CloseDelimited, head.Framing);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: ,chunked\r\n\r\n")]
    public void Parse_ChunkedFinal_IsChunked(string input)
    {
        Outcome outcome = Final(input + "5\r\nhello\r\n0\r\n\r\n");

        Assert.Equal(ResponseBodyFraming.Chunked, outcome.Framing);
        Assert.True(outcome.KeepAlive);
        Assert.Equal(input.Length, outcome.Consumed);
    }

    [Fact]
    public void Parse_ChunkedNotFinal_IsCloseDelimited()
    {
        Outcome outcome = Final("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");

        Assert.Equal(ResponseBodyFraming.CloseDelimited, outcome.Framing);
        Assert.False(outcome.KeepAlive);
    }

    [Fact]
    public void Parse_NoLengthNoEncoding_IsCloseDelimitedAndNotReusable()
    {
        Outcome outcome = Final("HTTP/1.1 200 OK\r\nServer: x\r\n\r\nuntil close");

        Assert.Equal(ResponseBodyFraming.CloseDelimited, outcome.Framing);
        Assert.False(outcome.KeepAlive);
    }

    [Fact]
    public void Parse_HeadRequest_HasNoBodyDespiteContentLength()
    {
        Outcome outcome = Final("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", RequestMethodKind.Head);

        Assert.Equal(ResponseBodyFraming.None, outcome.Framing);
        Assert.Equal(1234, outcome.ContentLength);
        Assert.True(outcome.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n")]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: \"x\"\r\n\r\n")]
    public void Parse_204And304_HaveNoBodyAndStayAlive(string input)
    {
        Outcome outcome = Final(input);

        Assert.Equal(ResponseBodyFraming.None, outcome.Framing);
        Assert.True(outcome.KeepAlive);
        Assert.Equal(input.Length, outcome.Consumed);
    }

    [Fact]
    public void Parse_100ContinueThen200_GivesInterimThenFinal()
    {
        const string interim = "HTTP/1.1 100 Continue\r\n\r\n";
        const string final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        List<Outcome> outcomes = ParseEveryWay(interim + final + "ok");

        Assert.Equal(2, outcomes.Count);
        Assert.True(outcomes[0].Interim);
        Assert.Equal(100, outcomes[0].StatusCode);
        Assert.Equal(ResponseBodyFraming.None, outcomes[0].Framing);
        Assert.Equal(interim.Length, outcomes[0].Consumed);
        Assert.False(outcomes[1].Interim);
        Assert.Equal(200, outcomes[1].StatusCode);
        Assert.Equal(interim.Length + final.Length, outcomes[1].Consumed);
    }

    [Fact]
    public void Parse_103EarlyHintsTwiceThen200_GivesEachHead()
    {
        const string hints = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n";
        List<Outcome> outcomes = ParseEveryWay(hints + hints + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal([103, 103, 200], outcomes.Select(o => o.StatusCode));
        Assert.Equal([true, true, false], outcomes.Select(o => o.Interim));
        Assert.Equal(1, outcomes[0].HeaderCount);
    }

    [Fact]
    public void Parse_101_EndsHttpAndKeepsUpgradeWhenUpgrading()
    {
        const string input = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        Outcome outcome = Final(input + "\x81\x05hello");

        Assert.True(outcome.Switches);
        Assert.False(outcome.Interim);
        Assert.False(outcome.KeepAlive);
        Assert.Equal(ResponseBodyFraming.None, outcome.Framing);
        Assert.Equal(input.Length, outcome.Consumed);

        ResponseHead head = ParseWhole(input);
        Assert.Equal(ConnectionOptions.Upgrade, head.Connection);
        Assert.True(head.TryGetValue(ForwardingHeader.Upgrade, out ReadOnlySpan<byte> upgrade));
        Assert.Equal("websocket", Encoding.Latin1.GetString(upgrade));
        Assert.False(head.IsHopByHop(0, upgrading: true));
        Assert.True(head.IsHopByHop(0, upgrading: false));
        Assert.True(head.IsHopByHop(1, upgrading: true));
    }

    [Fact]
    public void Parse_2xxToConnect_SwitchesToTunnel()
    {
        Outcome outcome = Final("HTTP/1.1 200 Connection established\r\n\r\n", RequestMethodKind.Connect);

        Assert.True(outcome.Switches);
        Assert.Equal(ResponseBodyFraming.None, outcome.Framing);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 005\r\n\r\n")]
    public void Parse_AgreeingContentLengths_AreOneLength(string input)
    {
        Outcome outcome = Final(input);

        Assert.Equal(ResponseParseStatus.Complete, outcome.Status);
        Assert.Equal(5, outcome.ContentLength);
    }

    [Theory]
    [InlineData("Content-Length: 5\r\nContent-Length: 6\r\n", nameof(ResponseHeadError.ConflictingContentLength))]
    [InlineData("Content-Length: 5, 6\r\n", nameof(ResponseHeadError.ConflictingContentLength))]
    [InlineData("Content-Length: abc\r\n", nameof(ResponseHeadError.InvalidContentLength))]
    [InlineData("Content-Length: -1\r\n", nameof(ResponseHeadError.InvalidContentLength))]
    [InlineData("Content-Length: +1\r\n", nameof(ResponseHeadError.InvalidContentLength))]
    [InlineData("Content-Length: 1 2\r\n", nameof(ResponseHeadError.InvalidContentLength))]
    [InlineData("Content-Length: \r\n", nameof(ResponseHeadError.InvalidContentLength))]
    [InlineData("Content-Length: 5,\r\n", nameof(ResponseHeadError.InvalidContentLength))]
    [InlineData("Content-Length: 99999999999999999999\r\n", nameof(ResponseHeadError.InvalidContentLength))]
    [InlineData("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", nameof(ResponseHeadError.ContentLengthWithTransferEncoding))]
    [InlineData("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", nameof(ResponseHeadError.ContentLengthWithTransferEncoding))]
    [InlineData("Transfer-Encoding: chunked, chunked\r\n", nameof(ResponseHeadError.InvalidTransferEncoding))]
    [InlineData("Transfer-Encoding: \r\n", nameof(ResponseHeadError.InvalidTransferEncoding))]
    [InlineData("Transfer-Encoding: \"chunked\"\r\n", nameof(ResponseHeadError.InvalidTransferEncoding))]
    [InlineData("X-Long: a\r\n folded\r\n", nameof(ResponseHeadError.ObsFold))]
    [InlineData("X-Long: a\r\n\tfolded\r\n", nameof(ResponseHeadError.ObsFold))]
    [InlineData(" X-First: a\r\n", nameof(ResponseHeadError.WhitespaceAfterStartLine))]
    [InlineData("Content-Length : 5\r\n", nameof(ResponseHeadError.WhitespaceBeforeColon))]
    [InlineData("Content-Length\t: 5\r\n", nameof(ResponseHeadError.WhitespaceBeforeColon))]
    [InlineData("No colon here\r\n", nameof(ResponseHeadError.MissingColon))]
    [InlineData(": empty name\r\n", nameof(ResponseHeadError.InvalidHeaderName))]
    [InlineData("Bad(Name): x\r\n", nameof(ResponseHeadError.InvalidHeaderName))]
    [InlineData("X-Nul: a\0b\r\n", nameof(ResponseHeadError.InvalidHeaderValue))]
    [InlineData("X-Cr: a\rb\r\n", nameof(ResponseHeadError.InvalidHeaderValue))]
    [InlineData("X-Lf: a\nb: c\r\n", nameof(ResponseHeadError.BareLineFeed))]
    public void Parse_InvalidField_IsRejectedWithReason(string fields, string error)
    {
        Outcome outcome = Final("HTTP/1.1 200 OK\r\n" + fields + "\r\n");

        Assert.Equal(ResponseParseStatus.Invalid, outcome.Status);
        Assert.Equal(Enum.Parse<ResponseHeadError>(error), outcome.Error);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 0\n\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n")]
    public void Parse_BareLineFeed_IsRejected(string input)
    {
        Outcome outcome = Final(input);

        Assert.Equal(ResponseParseStatus.Invalid, outcome.Status);
        Assert.Equal(ResponseHeadError.BareLineFeed, outcome.Error);
    }

    [Theory]
    [InlineData("HTTP/1.1 20 OK", nameof(ResponseHeadError.InvalidStatusCode))]
    [InlineData("HTTP/1.1 2000 OK", nameof(ResponseHeadError.InvalidStatusCode))]
    [InlineData("HTTP/1.1 2x0 OK", nameof(ResponseHeadError.InvalidStatusCode))]
    [InlineData("HTTP/1.1 099 Low", nameof(ResponseHeadError.InvalidStatusCode))]
    [InlineData("HTTP/1.1 600 High", nameof(ResponseHeadError.InvalidStatusCode))]
    [InlineData("HTTP/1.1  200 OK", nameof(ResponseHeadError.InvalidStatusCode))]
    [InlineData("HTTP/2 200 OK", nameof(ResponseHeadError.UnsupportedVersion))]
    [InlineData("HTTP/1.2 200 OK", nameof(ResponseHeadError.UnsupportedVersion))]
    [InlineData("HTTP/0.9 200 OK", nameof(ResponseHeadError.UnsupportedVersion))]
    [InlineData("HTTP/1.1\t200 OK", nameof(ResponseHeadError.UnsupportedVersion))]
    [InlineData("http/1.1 200 OK", nameof(ResponseHeadError.InvalidStatusLine))]
    [InlineData("ICY 200 OK", nameof(ResponseHeadError.InvalidStatusLine))]
    [InlineData("", nameof(ResponseHeadError.InvalidStatusLine))]
    [InlineData("HTTP/", nameof(ResponseHeadError.InvalidStatusLine))]
    [InlineData("HTTP/1.1 200 O\x01K", nameof(ResponseHeadError.InvalidReasonPhrase))]
    [InlineData("HTTP/1.1 200 O\x7FK", nameof(ResponseHeadError.InvalidReasonPhrase))]
    public void Parse_BadStatusLine_IsRejectedWithReason(string statusLine, string error)
    {
        Outcome outcome = Final(statusLine + "\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal(ResponseParseStatus.Invalid, outcome.Status);
        Assert.Equal(Enum.Parse<ResponseHeadError>(error), outcome.Error);
    }

    [Theory]
    [InlineData("HTTP/1.1 200\r\n\r\n", "")]
    [InlineData("HTTP/1.1 200 \r\n\r\n", "")]
    [InlineData("HTTP/1.1 200 Ok\tfine \xE9\xFF\r\n\r\n", "Ok\tfine \xE9\xFF")]
    public void Parse_ReasonPhrase_MayBeEmptyOrObsText(string input, string reason)
    {
        ResponseHead head = ParseWhole(input);

        Assert.Equal(200, head.StatusCode);
        Assert.Equal(reason, Encoding.Latin1.GetString(head.ReasonPhrase));
    }

    [Fact]
    public void Parse_HeadLargerThanLimit_IsHeadTooLarge()
    {
        var parser = new ResponseHeadParser(maxHeadSize: 64);
        string fits = "HTTP/1.1 200 OK\r\nX-Pad: " + new string('a', 64 - 17 - 7 - 4) + "\r\n\r\n";
        Assert.Equal(64, fits.Length);

        Assert.Equal(ResponseParseStatus.Complete, Final(fits + "body", parser: parser).Status);
        Outcome tooLarge = Final("HTTP/1.1 200 OK\r\nX-Pad: " + new string('a', 64) + "\r\n\r\n", parser: parser);
        Assert.Equal(ResponseParseStatus.Invalid, tooLarge.Status);
        Assert.Equal(ResponseHeadError.HeadTooLarge, tooLarge.Error);
    }

    [Fact]
    public void Parse_MoreFieldsThanLimit_IsTooManyHeaders()
    {
        var parser = new ResponseHeadParser(maxHeaderCount: 2);

        Assert.Equal(ResponseParseStatus.Complete, Final("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", parser: parser).Status);
        Assert.Equal(ResponseHeadError.TooManyHeaders, Final("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", parser: parser).Error);
    }

    [Theory]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: Keep-Alive, close\r\n\r\n", false)]
    [InlineData("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false)]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false)]
    [InlineData("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: x-a,CLOSE\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n", true)]
    public void Parse_ConnectionAndVersion_DecideKeepAlive(string input, bool keepAlive) =>
        Assert.Equal(keepAlive, Final(input).KeepAlive);

    [Fact]
    public void Parse_Http10WithChunked_IsChunkedButNotReusable()
    {
        Outcome outcome = Final("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");

        Assert.Equal(ResponseBodyFraming.Chunked, outcome.Framing);
        Assert.False(outcome.KeepAlive);
    }

    [Fact]
    public void Parse_ConnectionOptions_MarkTheFieldsTheyName()
    {
        ResponseHead head = ParseWhole(
            "HTTP/1.1 200 OK\r\nConnection: x-hop, Keep-Alive\r\nX-HOP: 1\r\nX-End: 2\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n"
            + "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: transfer-encoding\r\n\r\n");

        Assert.Equal(ConnectionOptions.Other | ConnectionOptions.KeepAlive, head.Connection);
        bool[] hopByHop = Enumerable.Range(0, head.HeaderCount).Select(i => head.IsHopByHop(i)).ToArray();
        // Connection, X-HOP (named), X-End, Keep-Alive, Proxy-Authenticate, Transfer-Encoding (never), Trailer, Connection
        Assert.Equal([true, true, false, true, true, false, true, true], hopByHop);
        Assert.True(head.IsListedInConnection(1));
        Assert.Equal(ForwardingHeader.TransferEncoding, head.KindOf(5));
    }

    [Fact]
    public void Parse_AfterComplete_TakesNoMoreBytes()
    {
        var head = new ResponseHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"u8.ToArray()));
        Assert.Equal(ResponseParseStatus.Complete, ResponseHeadParser.Default.Parse(ref reader, head, RequestMethodKind.Other));
        long consumed = reader.Consumed;

        Assert.Equal(ResponseParseStatus.Complete, ResponseHeadParser.Default.Parse(ref reader, head, RequestMethodKind.Other));
        Assert.Equal(consumed, reader.Consumed);
        Assert.Equal(204, head.StatusCode);
    }

    [Fact]
    public void Parse_ReusedHead_AllocatesNothingInSteadyState()
    {
        byte[] input = Encoding.Latin1.GetBytes(
            "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"
            + "Transfer-Encoding: chunked\r\nConnection: keep-alive, x-a\r\nX-A: 1\r\nCache-Control: no-cache\r\n\r\n");
        ReadOnlySequence<byte> split = TestSegment.Sequence(input.AsMemory(0, 50), input.AsMemory(50, 60), input.AsMemory(110));
        var head = new ResponseHead();
        var parser = ResponseHeadParser.Default;

        void ParseOnce(ReadOnlySequence<byte> sequence)
        {
            head.Reset();
            var reader = new SequenceReader<byte>(sequence);
            if (parser.Parse(ref reader, head, RequestMethodKind.Other) != ResponseParseStatus.Complete)
            {
                throw new InvalidOperationException("parse failed");
            }
        }

        var whole = new ReadOnlySequence<byte>(input);
        ParseOnce(whole);
        ParseOnce(split);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            ParseOnce(whole);
            ParseOnce(split);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Parse_MaximumHeadByteByByte_IsLinear()
    {
        // 64 KiB one byte per call: a re-scanning parser does ~2·10⁹ byte visits here; a linear one 6.5·10⁴.
        string input = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat("X-Pad: " + new string('a', 1000) + "\r\n", 64)) + "\r\n";
        byte[] bytes = Encoding.Latin1.GetBytes(input);
        var head = new ResponseHead();
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        ResponseParseStatus status = ResponseParseStatus.Incomplete;
        for (int i = 0; i < bytes.Length && status == ResponseParseStatus.Incomplete; i++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, i, 1));
            status = ResponseHeadParser.Default.Parse(ref reader, head, RequestMethodKind.Other);
        }

        Assert.Equal(ResponseParseStatus.Complete, status);
        Assert.Equal(64, head.HeaderCount);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), stopwatch.Elapsed.ToString());
    }
}
