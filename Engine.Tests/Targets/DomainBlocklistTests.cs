using Engine.Targets;

namespace Engine.Tests.Targets;

public class DomainBlocklistTests
{
    private readonly DomainBlocklist _list = new(["example-bank.com", "Evil.ORG."]);

    [Theory]
    [InlineData("example-bank.com", "example-bank.com")]
    [InlineData("www.example-bank.com", "example-bank.com")]
    [InlineData("a.b.EXAMPLE-BANK.com.", "EXAMPLE-BANK.com")]
    [InlineData("evil.org", "evil.org")]
    public void IsBlocked_DomainOrSubdomain_Matches(string host, string matched)
    {
        Assert.True(_list.IsBlocked(host, out ReadOnlySpan<char> m));
        Assert.Equal(matched, m.ToString());
    }

    [Theory]
    [InlineData("notexample-bank.com")]
    [InlineData("example-bank.com.au")]
    [InlineData("com")]
    [InlineData("")]
    public void IsBlocked_OtherDomains_DoNotMatch(string host) => Assert.False(_list.IsBlocked(host, out _));
}
