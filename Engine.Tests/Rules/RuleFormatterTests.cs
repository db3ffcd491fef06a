using Engine.Rules;
using static Engine.Tests.Rules.RuleTestText;

namespace Engine.Tests.Rules;

public class RuleFormatterTests
{
    [Fact]
    public void Format_DifferentOrder_SameBytes() =>
        Assert.Equal(Canonical("country-us-city-x"), Canonical("city-x-country-us"));

    [Fact]
    public void Format_WithoutSession_LeavesSessionOut()
    {
        Assert.Equal("country-us-sessionlength-60", Canonical("session-abc-country-us-sessionlength-60", includeSession: false));
        Assert.Equal(Canonical("session-a-country-us", includeSession: false), Canonical("country-us-sessionid-b", includeSession: false));
    }

    [Fact]
    public void Format_DestinationTooSmall_ReturnsMinusOne()
    {
        byte[] username = Bytes("country-us-city-paris");
        Assert.True(RuleParser.TryParse(username, RulePolicy.AllowAll, out RuleSet rules, out _));
        Assert.Equal(-1, RuleFormatter.Format(rules, username, new byte[20], includeSession: true));
        Assert.Equal(21, RuleFormatter.Format(rules, username, new byte[21], includeSession: true));
    }

    [Fact]
    public void Format_LongestValidRules_FitMaxLength()
    {
        string v64 = new('z', 64);
        string username = $"country-any-region-{v64}-city-{v64}-isp-{v64}-asn-4294967295-network-res-session-{v64}-sessionlength-86400-idlettl-86400-rotate-requests_1000000-onerror-replace-prefer-lookalike";
        Assert.InRange(Canonical(username).Length, 1, RuleFormatter.MaxLength);
    }
}
