using Engine.Rules;

namespace Engine.Tests.Rules;

public class IsoCountriesTests
{
    [Fact]
    public void IsAssigned_AllPairs_CountsTheOfficialList()
    {
        int assigned = 0;
        for (byte a = (byte)'a'; a <= 'z'; a++)
        {
            for (byte b = (byte)'a'; b <= 'z'; b++)
            {
                assigned += IsoCountries.IsAssigned(IsoCountries.Pack(a, b)) ? 1 : 0;
            }
        }

        Assert.Equal(IsoCountries.AssignedCount, assigned);
    }

    [Theory]
    [InlineData("us", true)]
    [InlineData("gb", true)]
    [InlineData("de", true)]
    [InlineData("ss", true)]
    [InlineData("ax", true)]
    [InlineData("uk", false)]
    [InlineData("eu", false)]
    [InlineData("xk", false)]
    [InlineData("an", false)]
    [InlineData("US", false)]
    [InlineData("1a", false)]
    public void IsAssigned_Code_MatchesIso3166(string code, bool expected) =>
        Assert.Equal(expected, IsoCountries.IsAssigned(IsoCountries.Pack((byte)code[0], (byte)code[1])));

    [Fact]
    public void IsAssigned_OutOfAlphabet_IsFalse()
    {
        Assert.False(IsoCountries.IsAssigned(0));
        Assert.False(IsoCountries.IsAssigned(ushort.MaxValue));
    }
}
