using System.Buffers;
using System.Text;
using Engine.Http;

namespace Engine.Tests.Http;

public class BodyReaderTests
{
    [Fact]
    public void Read_ContentLength_YieldsSlicesOfTheInputWithoutCopying()
    {
        byte[] input = Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloNEXT");
        var parser = new HttpRequestParser();
        var head = new RequestHead();
        var body = new BodyReader();
        var sequence = new ReadOnlySequence<byte>(input);
        var reader = new SequenceReader<byte>(sequence);

        Assert.Equal(ParseStatus.Complete, parser.ParseHead(ref reader, head));
        body.Start(head);
        Assert.Equal(BodyStatus.Data, body.Read(ref reader, out ReadOnlySequence<byte> data));

        Assert.Equal("hello", Encoding.ASCII.GetString(data));
        Assert.True(data.First.Span.Overlaps(input), "content must be a slice of the input");
        Assert.Equal(BodyStatus.Complete, body.Read(ref reader, out _));
        Assert.Equal("NEXT", Encoding.ASCII.GetString(reader.UnreadSequence));
    }

    [Fact]
    public void Read_LargeChunkSize_IsCountedAsLong()
    {
        var (status, data) = ReadChunked("7fffffffffffffff\r\nabc");

        Assert.Equal(BodyStatus.Incomplete, status);
        Assert.Equal("abc", data);
    }

    [Fact]
    public void Read_ChunkSizeBeyondLong_IsOverflow()
    {
        Assert.Equal(BodyStatus.Rejected, ReadChunked("8000000000000000\r\n").Status);
    }

    private static (BodyStatus Status, string Data) ReadChunked(string chunked)
    {
        var head = new RequestHead();
        var parser = new HttpRequestParser();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)));
        Assert.Equal(ParseStatus.Complete, parser.ParseHead(ref reader, head));
        var body = new BodyReader();
        body.Start(head);
        var text = new StringBuilder();
        while (true)
        {
            BodyStatus status = body.Read(ref reader, out ReadOnlySequence<byte> data);
            if (status != BodyStatus.Data)
            {
                return (status, text.ToString());
            }

            text.Append(Encoding.ASCII.GetString(data));
        }
    }
}
