using LoadTests;

namespace Engine.Tests.LoadTestsRunner;

/// <summary>How <c>LoadTests soak</c> and <c>ci</c> judge answers: by kind, status and catalog code (issue 16.5).</summary>
public sealed class SoakExpectationsTests
{
    [Theory]
    [InlineData(200, null, "200")]
    [InlineData(407, "AUTH_FAILED", "407 AUTH_FAILED")]
    [InlineData(502, null, "502")]
    [InlineData(0, null, "closed")]
    public void Label_StatusAndCode(int status, string? code, string expected) =>
        Assert.Equal(expected, Outcomes.Label(status, code));

    [Fact]
    public void Unexpected_EveryKindWithinItsAnswers_NoProblem()
    {
        Outcomes[] answers = [.. Soak.Kinds.Select(k => Answered(k.Expected))];

        Assert.Empty(Soak.Unexpected(answers));
    }

    [Fact]
    public void Unexpected_RightStatusWrongCode_NamesKindAndAnswer()
    {
        Outcomes[] answers = [.. Soak.Kinds.Select(k => Answered(k.Expected))];
        int noMatch = Array.FindIndex(Soak.Kinds, k => k.Name == "no-match");
        answers[noMatch].Add("502 NODE_UNAVAILABLE");   // a 502, but not the one unmatched rules get
        answers[noMatch].Add("closed");

        string problem = Assert.Single(Soak.Unexpected(answers));

        Assert.StartsWith("no-match expected 502 NODE_NOT_FOUND, got ", problem, StringComparison.Ordinal);
        Assert.Contains("502 NODE_UNAVAILABLE=1", problem, StringComparison.Ordinal);
        Assert.Contains("closed=1", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Kinds_ExpectCatalogCodesOnEveryRefusal()
    {
        Assert.All(Soak.Kinds.SelectMany(k => k.Expected).Where(e => e != "200"), e => Assert.Matches("^[45][0-9]{2} [A-Z_]+$", e));
        Assert.Equal(["200"], Soak.Kinds.Single(k => k.Name == "get").Expected);
        Assert.Equal(["407 AUTH_FAILED"], Soak.Kinds.Single(k => k.Name == "wrong-key").Expected);
        Assert.Equal(["200", "429 RATE_LIMIT_EXCEEDED"], Soak.Kinds.Single(k => k.Name == "limited").Expected);
    }

    private static Outcomes Answered(IEnumerable<string> labels)
    {
        var outcomes = new Outcomes();
        foreach (string label in labels)
        {
            outcomes.Add(label);
        }

        return outcomes;
    }
}
