using System.Text.Json;
using Engine.Http;

namespace Engine.Tests.Http;

/// <summary>
/// The 113 llhttp request vectors (../shared/conformance), each fed whole, byte by byte, split in
/// two at every boundary, and one segment per byte. The corpus omits Host on many HTTP/1.1
/// requests that llhttp (which does not check Host) accepts, so these run with
/// <see cref="HttpParserLimits.RequireHost"/> = false; <see cref="HttpRequestParserTests"/> proves
/// the default rejects missing, duplicate and invalid Host.
/// </summary>
public class LlhttpConformanceTests
{
    /// <summary>Every place where policy was decided against llhttp's notes, with the reason.</summary>
    internal static readonly IReadOnlyDictionary<string, ExpectedDifference> ExpectedDifferences = new[]
    {
        new ExpectedDifference("request/uri:222", RejectReason.TargetUserinfo,
            "Userinfo in an absolute-form target: RFC 9110 §4.2.4 says a recipient SHOULD treat it as an error; a proxy that forwards it leaks credentials and invites host confusion (llhttp accepts)."),
        new ExpectedDifference("request/method:135", RejectReason.AsteriskNotOptions,
            "M-SEARCH * (SSDP): RFC 9112 §3.2.4 allows asterisk-form only for OPTIONS; SSDP is HTTPU over UDP multicast and never reaches a TCP proxy (llhttp accepts any method)."),
        new ExpectedDifference("request/uri:4", null,
            "Agree (accept): '\"' in the target. RFC 3986 excludes it, but clients send it raw and nginx, Kestrel and llhttp accept visible ASCII; only controls, SP, DEL and non-ASCII are refused."),
        new ExpectedDifference("request/uri:98", null,
            "Agree (accept): '|' in the query, same reasoning as uri:4."),
        new ExpectedDifference("request/method:96", null,
            "Agree (accept, switch to tunnel): CONNECT has no content (RFC 9110 §9.3.6), so a (valid) Content-Length on it is ignored and the following bytes are tunnel data. Malformed framing fields are still refused."),
    }.ToDictionary(d => d.Id, StringComparer.Ordinal);

    private static readonly Lazy<Dictionary<string, ConformanceVector>> Vectors =
        new(() => ConformanceVector.Load(TestPaths.LlhttpVectors, requireHostByDefault: false));

    public static TheoryData<string> Ids => [.. Vectors.Value.Keys];

    [Theory]
    [MemberData(nameof(Ids))]
    public void Vector_FedWhole_MatchesLlhttp(string id) => Check(id, FeedMode.Whole);

    [Theory]
    [MemberData(nameof(Ids))]
    public void Vector_FedByteByByte_MatchesLlhttp(string id) => Check(id, FeedMode.ByteByByte);

    [Theory]
    [MemberData(nameof(Ids))]
    public void Vector_SplitAtEveryBoundary_MatchesLlhttp(string id) => Check(id, FeedMode.SplitEverywhere);

    [Theory]
    [MemberData(nameof(Ids))]
    public void Vector_OneSegmentPerByte_MatchesLlhttp(string id) => Check(id, FeedMode.SegmentPerByte);

    [Fact]
    public void Corpus_Loaded_Has113VectorsAndEveryDifferenceExists()
    {
        Assert.Equal(113, Vectors.Value.Count);
        foreach (string id in ExpectedDifferences.Keys)
        {
            Assert.True(Vectors.Value.ContainsKey(id), $"expected difference {id} is not in the corpus");
        }
    }

    private static void Check(string id, FeedMode mode)
    {
        ConformanceVector vector = Vectors.Value[id];
        if (ExpectedDifferences.TryGetValue(id, out ExpectedDifference? difference) && difference.Reason is { } reason)
        {
            Assert.True(vector.ExpectOk, $"{id}: differences are recorded only for vectors llhttp accepts");
            using JsonDocument expect = JsonDocument.Parse($$"""{"ok":false,"after_messages":0,"reject_reason":"{{reason}}"}""");
            VectorAssert.Matches(vector, mode, expect.RootElement);
            return;
        }

        VectorAssert.Matches(vector, mode);
    }
}
