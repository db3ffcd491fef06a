using System.Buffers;
using System.Text;
using Engine.Forwarding;

namespace Engine.Tests.Forwarding;

public class ChunkedFramingScannerTests
{
    // What follows the body on the wire: the scanner must stop before it.
    private const string NextMessage = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

    private static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    // Feeds through the span overload piece by piece; returns the status and how many bytes were counted as body.
    private static (ChunkedScanStatus Status, ChunkedFramingError Error, long Consumed) ScanSpans(ChunkedFramingScanner scanner, IEnumerable<ReadOnlyMemory<byte>> pieces)
    {
        scanner.Reset();
        long consumed = 0;
        ChunkedScanStatus status = ChunkedScanStatus.NeedMoreData;
        foreach (ReadOnlyMemory<byte> piece in pieces)
        {
            status = scanner.Scan(piece.Span, out int used);
            consumed += used;
            if (status != ChunkedScanStatus.NeedMoreData)
            {
                break;
            }

            Assert.Equal(piece.Length, used);
        }

        Assert.Equal(consumed, scanner.Length);
        return (status, scanner.Error, consumed);
    }

    private static IEnumerable<(string Mode, (ChunkedScanStatus Status, ChunkedFramingError Error, long Consumed) Result)> ScanEveryWay(
        byte[] input, ChunkedFramingScanner? scanner = null)
    {
        scanner ??= new ChunkedFramingScanner();
        yield return ("whole", ScanSpans(scanner, [input]));
        yield return ("byte-by-byte", ScanSpans(scanner, input.Select((_, i) => (ReadOnlyMemory<byte>)input.AsMemory(i, 1))));
        for (int split = 1; split < input.Length; split++)
        {
            yield return ($"split@{split}", ScanSpans(scanner, [input.AsMemory(0, split), input.AsMemory(split)]));

            // The SequenceReader overload over a two-segment sequence.
            scanner.Reset();
            var reader = new SequenceReader<byte>(TestSegment.Sequence(input.AsMemory(0, split), input.AsMemory(split)));
            ChunkedScanStatus status = scanner.Scan(ref reader);
            yield return ($"sequence@{split}", (status, scanner.Error, reader.Consumed));
        }
    }

    [Theory]
    [InlineData("5\r\nhello\r\n0\r\n\r\n", 5)]
    [InlineData("0\r\n\r\n", 0)]
    [InlineData("000\r\n\r\n", 0)]
    [InlineData("1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", 26)]
    [InlineData("1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", 26)]
    [InlineData("5;name=value;q=\"a b;c\"\r\nhello\r\n0;last\r\n\r\n", 5)]
    [InlineData("5 ;ext\r\nhello\r\n0\t; ext = 1\r\n\r\n", 5)]
    [InlineData("7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n", 7)]
    [InlineData("3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 123\r\nX-Empty:\r\nX-Obs: caf\xE9\r\n\r\n", 5)]
    public void Scan_ValidBody_EndsExactlyAtItsLastByte(string body, int dataLength)
    {
        byte[] input = Bytes(body + NextMessage);
        foreach ((string mode, var result) in ScanEveryWay(input))
        {
            Assert.True(result.Status == ChunkedScanStatus.Complete, $"{mode}: {result}");
            Assert.True(result.Consumed == body.Length, $"{mode}: consumed {result.Consumed} of {body.Length}");
        }

        var scanner = new ChunkedFramingScanner();
        Assert.Equal(ChunkedScanStatus.Complete, scanner.Scan(input, out _));
        Assert.Equal(dataLength, scanner.DataLength);
        Assert.True(scanner.IsComplete);
    }

    [Fact]
    public void Scan_IncompleteBody_NeedsMoreDataAndCountsEverything()
    {
        byte[] input = Bytes("5\r\nhello\r\n0\r\nX-Trailer: 1\r\n");
        foreach ((string mode, var result) in ScanEveryWay(input))
        {
            Assert.True(result.Status == ChunkedScanStatus.NeedMoreData && result.Consumed == input.Length, $"{mode}: {result}");
        }
    }

    [Fact]
    public void Scan_AfterComplete_TakesNothingUntilReset()
    {
        var scanner = new ChunkedFramingScanner();
        Assert.Equal(ChunkedScanStatus.Complete, scanner.Scan("0\r\n\r\n"u8, out int first));
        Assert.Equal(5, first);

        Assert.Equal(ChunkedScanStatus.Complete, scanner.Scan("1\r\na\r\n0\r\n\r\n"u8, out int second));
        Assert.Equal(0, second);

        scanner.Reset();
        Assert.Equal(ChunkedScanStatus.Complete, scanner.Scan("1\r\na\r\n0\r\n\r\n"u8, out int third));
        Assert.Equal(11, third);
    }

    [Fact]
    public void Scan_LargestSize_IsAcceptedWithoutOverflow()
    {
        var scanner = new ChunkedFramingScanner();
        Assert.Equal(ChunkedScanStatus.NeedMoreData, scanner.Scan("7FFFFFFFFFFFFFFF\r\nabc"u8, out int consumed));
        Assert.Equal(21, consumed);
        Assert.Equal(3, scanner.DataLength);
    }

    [Theory]
    [InlineData("0x5\r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData("+5\r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData("-5\r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData(" 5\r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData("\r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData(";ext\r\n\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData("G\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData("5,5\r\nhello\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData("5\r\nhello\r\nx\r\n", nameof(ChunkedFramingError.InvalidChunkSize))]
    [InlineData("8000000000000000\r\n", nameof(ChunkedFramingError.ChunkSizeOverflow))]
    [InlineData("FFFFFFFFFFFFFFFFF\r\n", nameof(ChunkedFramingError.ChunkSizeOverflow))]
    [InlineData("00000000000000005\r\nhello\r\n", nameof(ChunkedFramingError.ChunkSizeOverflow))]
    [InlineData("5 \r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.WhitespaceWithoutExtension))]
    [InlineData("5 5\r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.WhitespaceWithoutExtension))]
    [InlineData("5;a\x01\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;a\0\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;a=\"x\rx\"\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;=x\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;a=\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;a=\"unterminated\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;a=b c\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;a=\"q\\\x01\"\r\nhello\r\n", nameof(ChunkedFramingError.InvalidExtension))]
    [InlineData("5;a\nhello\r\n", nameof(ChunkedFramingError.BareLineFeed))]
    [InlineData("5\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.BareLineFeed))]
    [InlineData("5\r\nhello\n0\r\n\r\n", nameof(ChunkedFramingError.MissingChunkTerminator))]
    [InlineData("5\r\nhello\r\n0\n\r\n", nameof(ChunkedFramingError.BareLineFeed))]
    [InlineData("5\r\nhello\r\n0\r\n\n", nameof(ChunkedFramingError.BareLineFeed))]
    [InlineData("0\r\nX: a\n\r\n", nameof(ChunkedFramingError.BareLineFeed))]
    [InlineData("5\rhello\r\n", nameof(ChunkedFramingError.ExpectedLineFeed))]
    [InlineData("5\r\nhello\rX", nameof(ChunkedFramingError.MissingChunkTerminator))]
    [InlineData("0\r\n\rX", nameof(ChunkedFramingError.ExpectedLineFeed))]
    [InlineData("0\r\nX: a\rX", nameof(ChunkedFramingError.ExpectedLineFeed))]
    [InlineData("5\r\nhelloX\r\n", nameof(ChunkedFramingError.MissingChunkTerminator))]
    [InlineData("3\r\nhello\r\n0\r\n\r\n", nameof(ChunkedFramingError.MissingChunkTerminator))]
    [InlineData("0\r\n folded: x\r\n\r\n", nameof(ChunkedFramingError.TrailerObsFold))]
    [InlineData("0\r\nX: a\r\n\tfolded\r\n\r\n", nameof(ChunkedFramingError.TrailerObsFold))]
    [InlineData("0\r\nBad Name: x\r\n\r\n", nameof(ChunkedFramingError.InvalidTrailerName))]
    [InlineData("0\r\nX : x\r\n\r\n", nameof(ChunkedFramingError.TrailerWhitespaceBeforeColon))]
    [InlineData("0\r\nNoColon\r\n\r\n", nameof(ChunkedFramingError.InvalidTrailerName))]
    [InlineData("0\r\n: x\r\n\r\n", nameof(ChunkedFramingError.InvalidTrailerName))]
    [InlineData("0\r\nX: a\0b\r\n\r\n", nameof(ChunkedFramingError.InvalidTrailerValue))]
    [InlineData("0\r\nX: a\u007Fb\r\n\r\n", nameof(ChunkedFramingError.InvalidTrailerValue))]
    public void Scan_InvalidFraming_IsRejectedWithReason(string body, string error)
    {
        byte[] input = Bytes(body);
        foreach ((string mode, var result) in ScanEveryWay(input))
        {
            Assert.True(result.Status == ChunkedScanStatus.Invalid, $"{mode}: {result}");
            Assert.True(result.Error == Enum.Parse<ChunkedFramingError>(error), $"{mode}: {result}");
        }
    }

    [Fact]
    public void Scan_ExtensionOverLimit_IsExtensionTooLong()
    {
        var scanner = new ChunkedFramingScanner(maxExtensionBytes: 8);
        Assert.All(ScanEveryWay(Bytes("5;abcdefg\r\nhello\r\n0\r\n\r\n"), scanner), r => Assert.Equal(ChunkedScanStatus.Complete, r.Result.Status));
        Assert.All(ScanEveryWay(Bytes("5;abcdefgh\r\nhello\r\n"), scanner), r => Assert.Equal(ChunkedFramingError.ExtensionTooLong, r.Result.Error));
        Assert.All(ScanEveryWay(Bytes("5         ;\r\nhello\r\n"), scanner), r => Assert.Equal(ChunkedFramingError.ExtensionTooLong, r.Result.Error));
    }

    [Fact]
    public void Scan_ProductionDefaults_Bound16KiBOfExtensionsAnd32KiBOfTrailers()
    {
        // The forwarder builds its scanners with the defaults: these are the limits clients and targets meet.
        string extensions = ";" + new string('e', ChunkedFramingScanner.DefaultMaxExtensionBytes - 1);
        Assert.Equal(ChunkedScanStatus.Complete, Scan(new ChunkedFramingScanner(), $"1{extensions}\r\nx\r\n0\r\n\r\n"));
        var over = new ChunkedFramingScanner();
        Assert.Equal(ChunkedScanStatus.Invalid, Scan(over, $"1{extensions}e\r\nx\r\n0\r\n\r\n"));
        Assert.Equal(ChunkedFramingError.ExtensionTooLong, over.Error);

        // "X: " + value + CRLF, then the final CRLF: exactly the budget, then one byte more.
        string value = new('v', ChunkedFramingScanner.DefaultMaxTrailerBytes - 7);
        Assert.Equal(ChunkedScanStatus.Complete, Scan(new ChunkedFramingScanner(), $"0\r\nX: {value}\r\n\r\n"));
        var tooLarge = new ChunkedFramingScanner();
        Assert.Equal(ChunkedScanStatus.Invalid, Scan(tooLarge, $"0\r\nX: {value}v\r\n\r\n"));
        Assert.Equal(ChunkedFramingError.TrailerTooLarge, tooLarge.Error);

        static ChunkedScanStatus Scan(ChunkedFramingScanner scanner, string body)
        {
            scanner.Reset();
            return scanner.Scan(Bytes(body), out _);
        }
    }

    [Fact]
    public void Scan_ExtensionsSummedOverTheMessage_AreBoundedLikeOneLong()
    {
        // Node.js counts chunk extensions per message (CVE-2024-22019): many short ones add up.
        var scanner = new ChunkedFramingScanner(maxExtensionBytes: 8);
        Assert.All(ScanEveryWay(Bytes("1;abc\r\nx\r\n1;abc\r\ny\r\n0\r\n\r\n"), scanner), r => Assert.Equal(ChunkedScanStatus.Complete, r.Result.Status));
        Assert.All(ScanEveryWay(Bytes("1;abcd\r\nx\r\n1;abc\r\ny\r\n0\r\n\r\n"), scanner), r => Assert.Equal(ChunkedFramingError.ExtensionTooLong, r.Result.Error));
    }

    [Fact]
    public void Scan_TrailerOverLimit_IsTrailerTooLarge()
    {
        // The limit counts the whole section: field lines with their CRLFs (16 here) and the final CRLF (2).
        var scanner = new ChunkedFramingScanner(maxTrailerBytes: 18);
        Assert.All(ScanEveryWay(Bytes("0\r\nX-A: 123456789\r\n\r\n"), scanner), r => Assert.Equal(ChunkedScanStatus.Complete, r.Result.Status));
        Assert.All(ScanEveryWay(Bytes("0\r\nX-A: 1234567890\r\n\r\n"), scanner), r => Assert.Equal(ChunkedFramingError.TrailerTooLarge, r.Result.Error));
    }

    [Fact]
    public void Scan_ReusedScanner_AllocatesNothing()
    {
        byte[] body = Bytes("400;ext=1\r\n" + new string('x', 1024) + "\r\n10\r\n" + new string('y', 16) + "\r\n0\r\nX-Sum: 1\r\n\r\n");
        ReadOnlySequence<byte> split = TestSegment.Sequence(body.AsMemory(0, 7), body.AsMemory(7, 600), body.AsMemory(607));
        var scanner = new ChunkedFramingScanner();

        void ScanOnce()
        {
            scanner.Reset();
            if (scanner.Scan(body, out _) != ChunkedScanStatus.Complete)
            {
                throw new InvalidOperationException("scan failed");
            }

            scanner.Reset();
            var reader = new SequenceReader<byte>(split);
            if (scanner.Scan(ref reader) != ChunkedScanStatus.Complete)
            {
                throw new InvalidOperationException("scan failed");
            }
        }

        ScanOnce();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            ScanOnce();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData("2\r\nok\r\n0\r\nX-Proxy-Error: NODE_UNAVAILABLE\r\n\r\n")]
    [InlineData("0\r\nx-proxy-detail: made up\r\n\r\n")]
    [InlineData("0\r\nEtag: \"a\"\r\nX-PROXY-CORRELATION-ID: 0000000000000000\r\n\r\n")]
    public void ResponseScanner_EngineErrorFieldInTrailers_IsRefused_InEverySplit(string body)
    {
        // errors.md: forwarded responses never carry X-Proxy-Error/-Detail/-Correlation-Id, whatever the
        // target sent; a trailer line cannot be cut from bytes relayed as received, so the body is refused.
        foreach ((string mode, var result) in ScanEveryWay(Bytes(body), new ChunkedFramingScanner(refuseEngineTrailers: true)))
        {
            Assert.True(result.Status == ChunkedScanStatus.Invalid && result.Error == ChunkedFramingError.EngineFieldInTrailer, $"{mode}: {result}");
        }

        // A request's trailers are the client's own business: the default scanner frames them.
        foreach ((string mode, var result) in ScanEveryWay(Bytes(body)))
        {
            Assert.True(result.Status == ChunkedScanStatus.Complete, $"request side, {mode}: {result}");
        }
    }

    [Theory]
    [InlineData("0\r\nX-Proxy-Errors: x\r\n\r\n")]
    [InlineData("0\r\nX-Proxy-Node: n1\r\n\r\n")]
    [InlineData("0\r\nX-Proxy-Correlation-Identity: x\r\n\r\n")]
    [InlineData("0\r\nServer-Timing: db;dur=53\r\n\r\n")]
    public void ResponseScanner_OtherTrailers_Pass(string body)
    {
        foreach ((string mode, var result) in ScanEveryWay(Bytes(body), new ChunkedFramingScanner(refuseEngineTrailers: true)))
        {
            Assert.True(result.Status == ChunkedScanStatus.Complete, $"{mode}: {result}");
        }
    }
}
