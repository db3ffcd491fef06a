using System.Text;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>Inputs afl-fuzz saved from the <c>request</c> target (docs/fuzzing.md), kept as named cases.</summary>
public class FuzzRegressionTests
{
    private static readonly HttpParserLimits NoHostRequired = new() { RequireHost = false };

    /// <summary>
    /// First fuzz run, 29 saved "crashes" of this shape: a chunk's data split across two segments
    /// came out of the (since deleted) BodyReader as two Data slices, which the harness compared slice by
    /// slice. The parser was right (content and reject reason agree); the harness now compares the
    /// content. Kept so the whole/split agreement on this input stays checked, now on the production
    /// ChunkedFramingScanner.
    /// </summary>
    [Fact]
    public void Read_ChunkDataSplitAcrossSegments_SameRejectionAsWhole()
    {
        byte[] input = Encoding.Latin1.GetBytes("PUT /url HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n!\r\n\r\n");

        DriverOutcome whole = HttpTestDriver.Run(input, FeedMode.Whole, NoHostRequired);
        DriverOutcome split = HttpTestDriver.RunSplit(input, 54, NoHostRequired);

        Assert.True(whole.Rejected);
        Assert.Equal(RejectReason.InvalidChunkSize, whole.Reason);
        Assert.Equal(whole.Reason, split.Reason);
        Assert.Equal(whole.Messages.Count, split.Messages.Count);
    }
}
