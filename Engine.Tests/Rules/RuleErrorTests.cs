using System.Text;
using CsCheck;
using Engine.Rules;
using static Engine.Tests.Rules.RuleTestText;

namespace Engine.Tests.Rules;

public class RuleErrorTests
{
    public static TheoryData<string> EveryRejected => new(RuleParserTests.Rejected.Select(row => (string)row[0]));

    [Theory]
    [MemberData(nameof(EveryRejected))]
    public void FormatDetail_EveryProblem_IsPrintableBoundedAndNamesTheParam(string username)
    {
        byte[] bytes = Bytes(username);
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        byte[] detail = new byte[256];
        int written = error.FormatDetail(bytes, detail);
        Assert.InRange(written, 1, 256);
        Assert.All(detail[..written], b => Assert.InRange(b, (byte)0x20, (byte)0x7E));
        string text = Text(detail.AsSpan(0, written));
        Assert.Contains(Text(bytes, error.Param), text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("city-los-angeles", "city-los_angeles")]
    [InlineData("country-US", "country-us")]
    [InlineData("country-uk", "country-gb")]
    [InlineData("country-xx", "'xx'")]
    [InlineData("", "country-any")]
    [InlineData("Country-us", "country-us")]
    [InlineData("asn-007922", "asn-7922")]
    [InlineData("session-x-rotate-timed_0060", "rotate-timed_60")]
    [InlineData("session-x-rotate-timed_60-rotate-requests_10", "rotate-requests_10 and rotate-timed_60 contradict")]
    public void FormatDetail_CommonMistakes_SuggestTheFix(string username, string fix)
    {
        byte[] bytes = Bytes(username);
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        byte[] detail = new byte[256];
        int written = error.FormatDetail(bytes, detail);
        Assert.Contains(fix, Text(detail.AsSpan(0, written)), StringComparison.Ordinal);
    }

    [Fact]
    public void FormatDetail_SmallDestinations_NeverOverrun() =>
        Gen.Int[0, 300].Sample(size =>
        {
            byte[] bytes = Bytes("country-us-city-los-angeles-" + new string('x', 200));
            Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
            byte[] detail = new byte[size + 8];
            int written = error.FormatDetail(bytes, detail.AsSpan(0, size));
            Assert.InRange(written, 0, size);
            Assert.All(detail[size..], b => Assert.Equal(0, b));
        });

    [Fact]
    public void FormatDetail_UnprintableUserBytes_AreSanitised()
    {
        byte[] bytes = [.. "city-a"u8, (byte)'\r', (byte)'\n', 0xFF, .. "-country-us"u8];
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        byte[] detail = new byte[256];
        int written = error.FormatDetail(bytes, detail);
        Assert.All(detail[..written], b => Assert.InRange(b, (byte)0x20, (byte)0x7E));
        Assert.Contains("a???", Encoding.ASCII.GetString(detail, 0, written), StringComparison.Ordinal);
    }

    [Fact]
    public void FormatDetail_RangesFromAnotherUsername_DoNotThrow()
    {
        byte[] bytes = Bytes("country-us-city-los-angeles");
        Assert.False(RuleParser.TryParse(bytes, RulePolicy.AllowAll, out _, out RuleError error));
        Assert.True(error.FormatDetail("x"u8, new byte[256]) > 0);
    }
}
