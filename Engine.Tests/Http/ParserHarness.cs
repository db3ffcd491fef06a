using System.Buffers;
using System.Text;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>Small helpers for single-head tests: parse an ASCII head in one call.</summary>
internal static class ParserHarness
{
    public static (ParseStatus Status, RejectReason Reason, RequestHead Head, long Consumed) Parse(string text, HttpParserLimits? limits = null)
    {
        var parser = new HttpRequestParser(limits);
        var head = new RequestHead();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)));
        ParseStatus status = parser.ParseHead(ref reader, head);
        return (status, parser.RejectReason, head, reader.Consumed);
    }

    public static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);
}
