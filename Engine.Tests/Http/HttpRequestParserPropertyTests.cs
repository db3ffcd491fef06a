using System.Text;
using CsCheck;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>
/// Random inputs through the parser and body reader: any byte string, fed whole, split in two at
/// any position or one byte per call, gives the same outcome, and nothing escapes but the
/// parser's own rejection (an exception fails the property).
/// </summary>
public class HttpRequestParserPropertyTests
{
    /// <summary>Pieces of requests, valid and near misses, so random concatenations reach past the request line.</summary>
    private static readonly string[] Pieces =
    [
        "GET ", "POST ", "CONNECT ", "HEAD ", "OPTIONS ", "get ", "/", "/a?b=c", "*", "http://a.example/x", "a.example:443", " ",
        "HTTP/1.1", "HTTP/1.0", "HTTP/1.10", "HTTP/2.0", "\r\n", "\n", "\r", "\r\n\r\n", "Host: a.example", "Host: ", "Host:a",
        "Content-Length: 3", "Content-Length: 0", "Content-Length: -1", "Content-Length: 1, 1", "Transfer-Encoding: chunked",
        "Transfer-Encoding: gzip", "Transfer-Encoding : chunked", "Connection: close", "Connection: keep-alive, Upgrade",
        "Upgrade: websocket", "Expect: 100-continue", " folded", "\t", "X: \u0001", "abc", "5\r\nhello\r\n", "0\r\n\r\n",
        "3;ext=1\r\n", "FFFFFFFFFFFFFFFFF\r\n", "Trailer-Field: v\r\n", "\0", "\u00ff", ":",
    ];

    private static readonly HttpParserLimits Small = new()
    {
        MaxRequestLineBytes = 64,
        MaxRequestHeadBytes = 128,
        MaxHeaderCount = 3,
        RequireHost = false,
    };

    private static readonly ChunkLimits SmallChunks = new(MaxExtensionBytes: 8, MaxTrailerBytes: 32);

    private static readonly Gen<byte[]> RequestSoup =
        Gen.OneOf(Pieces).Array[0, 24].Select(pieces => Encoding.Latin1.GetBytes(string.Concat(pieces)));

    [Fact]
    public void ParseHead_RandomBytesSplitAnywhere_SameOutcomeAsWhole() =>
        Gen.Byte.Array[0, 160].SelectMany(bytes => Gen.Int[0, bytes.Length].Select(split => (bytes, split)))
            .Sample(t => CheckSameOutcome(t.bytes, t.split, HttpParserLimits.Default), iter: 5_000, print: Print);

    [Fact]
    public void ParseHead_RequestSoupSplitAnywhere_SameOutcomeAsWhole() =>
        RequestSoup.SelectMany(bytes => Gen.Int[0, bytes.Length].Select(split => (bytes, split)))
            .Sample(t => CheckSameOutcome(t.bytes, t.split, HttpParserLimits.Default), iter: 5_000, print: Print);

    [Fact]
    public void ParseHead_RequestSoupUnderSmallLimits_SameOutcomeAsWhole() =>
        RequestSoup.SelectMany(bytes => Gen.Int[0, bytes.Length].Select(split => (bytes, split)))
            .Sample(t => CheckSameOutcome(t.bytes, t.split, Small, SmallChunks), iter: 5_000, print: Print);

    private static void CheckSameOutcome(byte[] bytes, int split, HttpParserLimits limits, ChunkLimits? chunks = null)
    {
        string whole = Fingerprint(HttpTestDriver.Run(bytes, FeedMode.Whole, limits, chunks));
        Assert.Equal(whole, Fingerprint(HttpTestDriver.RunSplit(bytes, split, limits, chunks)));
        Assert.Equal(whole, Fingerprint(HttpTestDriver.Run(bytes, FeedMode.ByteByByte, limits, chunks)));
    }

    /// <summary>Everything the driver saw, so two outcomes compare as strings.</summary>
    private static string Fingerprint(DriverOutcome outcome)
    {
        var text = new StringBuilder(outcome.ToString());
        foreach (DriverMessage message in outcome.Partial is null ? outcome.Messages : [.. outcome.Messages, outcome.Partial])
        {
            text.Append(" | ").Append(message.Method).Append(' ').Append(message.Url).Append(' ').Append(message.Version)
                .Append(message.Chunked ? " chunked" : string.Empty)
                .Append(' ').AppendJoin(';', message.Headers.Select(h => h.Name + ":" + h.Value))
                .Append(" body=").Append(Convert.ToHexString(message.Body))
                .Append(" trailers=").AppendJoin(';', message.Trailers.Select(h => h.Name + ":" + h.Value));
        }

        return text.ToString();
    }

    private static string Print((byte[] Bytes, int Split) t) => $"split {t.Split} of {Convert.ToBase64String(t.Bytes)}";
}
